"""HLS: the muxer's options, reading a variant playlist back, and the master playlist.

Variant playlists and their MPEG-TS segments come from FFmpeg's ``hls`` muxer (through
PyAV): a VOD playlist (``#EXT-X-PLAYLIST-TYPE:VOD``, every segment listed, ``ENDLIST``)
whose segments are cut at the first key frame after each ``hls_time`` seconds. The muxer
opens the segment files itself from ``hls_segment_filename`` (an absolute path here, so
the job does not depend on the working directory) and lists them by base name, so the
playlist is relative and the directory can be uploaded anywhere as is.

FFmpeg can write a master playlist too (``master_pl_name``), but only for the variants of
one muxer, i.e. one encoder setting; livetape's variants come from several, so the
master is written here, from the variants' measured bitrates. ``BANDWIDTH`` is the peak
segment bitrate (what RFC 8216 asks for), ``AVERAGE-BANDWIDTH`` the mean; ``CODECS``
names the H.264 profile and level from the encoder's SPS (``avc1.PPCCLL``) and AAC-LC
(``mp4a.40.2``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PLAYLIST_NAME = "index.m3u8"
MASTER_NAME = "master.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
AAC_LC_CODEC = "mp4a.40.2"
H264_SPS = 7


def muxer_options(directory: Path, segment_seconds: float) -> dict[str, str]:
    """Options for ``av.open(directory / PLAYLIST_NAME, "w", format="hls", options=...)``."""
    return {
        "hls_time": f"{segment_seconds:g}",
        "hls_playlist_type": "vod",  # keep every segment; write ENDLIST at the end
        "hls_segment_type": "mpegts",
        "hls_segment_filename": str(directory / SEGMENT_PATTERN),
        "hls_flags": "independent_segments",  # each segment starts with an IDR (+ SPS/PPS)
    }


@dataclass(frozen=True)
class Segment:
    """One ``#EXTINF`` entry: its duration (s) and URI, relative to the playlist."""

    duration: float
    uri: str


def read_playlist(path: Path) -> list[Segment]:
    """The segments a media playlist lists, in order."""
    segments: list[Segment] = []
    duration: float | None = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:"):].split(",", 1)[0])
        elif line and not line.startswith("#"):
            if duration is None:
                raise ValueError(f"{path}: segment {line!r} has no #EXTINF")
            segments.append(Segment(duration, line))
            duration = None
    return segments


def avc1_codec(extradata: bytes) -> str:
    """RFC 6381 name of an H.264 stream from its Annex-B or avcC extradata:
    ``avc1.`` + profile_idc, constraint flags and level_idc in hex."""
    if extradata[:1] == b"\x01" and len(extradata) >= 4:  # avcC: bytes 1..3 are the same
        return "avc1." + extradata[1:4].hex().upper()
    start = extradata.find(b"\x00\x00\x01")
    while 0 <= start and start + 6 <= len(extradata):
        if extradata[start + 3] & 0x1F == H264_SPS:
            return "avc1." + extradata[start + 4:start + 7].hex().upper()
        start = extradata.find(b"\x00\x00\x01", start + 3)
    raise ValueError("no H.264 SPS in the extradata")


@dataclass(frozen=True)
class Variant:
    """One ``#EXT-X-STREAM-INF`` entry of a master playlist."""

    uri: str  # relative to the master playlist, e.g. "210/index.m3u8"
    bandwidth: int  # peak bits/s
    average_bandwidth: int
    width: int  # 0: audio only
    height: int
    codecs: tuple[str, ...]


def write_master(path: Path, variants: list[Variant]) -> None:
    """Write a master playlist listing ``variants`` from the lowest bandwidth up (the first
    entry is where most players start)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in sorted(variants, key=lambda v: (v.bandwidth, v.uri)):
        attrs = [f"BANDWIDTH={v.bandwidth}", f"AVERAGE-BANDWIDTH={v.average_bandwidth}"]
        if v.width and v.height:
            attrs.append(f"RESOLUTION={v.width}x{v.height}")
        attrs.append(f'CODECS="{",".join(v.codecs)}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), v.uri]
    path.write_text("\n".join(lines) + "\n")
    logger.debug("wrote %s with %d variants", path, len(variants))


def peak_bitrate(segments: list[tuple[float, int]]) -> int:
    """RFC 8216's peak segment bit rate of (duration s, bits) pairs: the highest rate of
    any run of consecutive segments lasting 0.5 to 1.5 target durations (all of them if
    none does, e.g. a clip shorter than half a segment)."""
    if not segments:
        return 0
    target = math.ceil(max(d for d, _ in segments))
    peak = 0.0
    for i in range(len(segments)):
        seconds, bits = 0.0, 0
        for d, b in segments[i:]:
            seconds, bits = seconds + d, bits + b
            if seconds > 1.5 * target:
                break
            if seconds >= 0.5 * target:
                peak = max(peak, bits / seconds)
    if not peak:
        total = sum(d for d, _ in segments)
        peak = sum(b for _, b in segments) / max(total, 1e-3)
    return round(peak)


def average_bitrate(segments: list[tuple[float, int]]) -> int:
    """RFC 8216's average segment bit rate: all the bits over all the seconds."""
    seconds = sum(d for d, _ in segments)
    return round(sum(b for _, b in segments) / seconds) if seconds > 0 else 0
