"""What a finished media file holds: duration, codecs, picture size, bitrates.

Read by demuxing only (no decoding): the library stores it for every file that lands, a
recorded segment or an upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


@dataclass
class MediaInfo:
    """What the library stores about a finished file."""

    duration: float = 0.0
    size: int = 0
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int = 0
    height: int = 0
    bitrate: int = 0
    video_bitrate: int = 0


def probe(path: Path) -> MediaInfo:
    """Duration, codecs, size and bitrates of a finished MP4 (demux only, no decoding)."""
    info = MediaInfo(size=path.stat().st_size)
    video_bytes = 0
    with av.open(str(path)) as container:
        if container.duration is not None:
            info.duration = container.duration / av.time_base
        for stream in container.streams:
            if isinstance(stream, av.VideoStream) and info.video_codec is None:
                info.video_codec = stream.codec_context.name
                info.width = stream.codec_context.width
                info.height = stream.codec_context.height
            elif stream.type == "audio" and info.audio_codec is None:
                info.audio_codec = stream.codec_context.name
        for packet in container.demux():
            if packet.stream.type == "video":
                video_bytes += packet.size
    if info.duration > 0:
        info.bitrate = int(info.size * 8 / info.duration)
        info.video_bitrate = int(video_bytes * 8 / info.duration)
    return info
