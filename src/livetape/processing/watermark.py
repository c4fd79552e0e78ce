"""Watermarking: a PNG logo burnt into a corner of the video, audio untouched.

The video is decoded, the mark blended into each frame (``overlay.py``) and re-encoded
with libx264 at the source's size and timing, at constant quality (``crf``, 18 by
default: visually lossless, so the rest of the picture barely changes). Audio packets
are copied as they are, byte for byte (no decode, no re-encode: nothing to lose, and it
costs nothing). The result is one faststart MP4, the "watermarked" definition (1).

A mark wider than ``max_width_fraction`` of the video is scaled down, keeping its aspect
ratio; it is never scaled up. Key frames come every ``GOP_SECONDS`` (by time, like the
transcoder's) so the file seeks well.

As with ``transcode``: errors propagate after the files are closed, and ``out`` is left
half-written on failure (the VOD worker discards its work dir).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import VideoFrame

from livetape.processing.decode import Progress, describe, open_source
from livetape.processing.encoders import FrameDurations, KeyframeClock, VideoSettings, x264_stream
from livetape.processing.ladder import WATERMARK_DEFINITION
from livetape.processing.outputs import Output, measure_mp4
from livetape.processing.overlay import Overlay

logger = logging.getLogger(__name__)

__all__ = ["POSITIONS", "Watermarked", "check_png", "watermark"]

POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right")
GOP_SECONDS = 2.0


def _read_png(path: Path) -> VideoFrame:
    """The first picture of a PNG file; ValueError when it is anything else."""
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams or streams[0].codec_context.name != "png":
                raise ValueError(f"{path.name}: not a PNG image")
            for frame in container.decode(streams[0]):
                return frame
    except av.FFmpegError as exc:  # unreadable, truncated, not an image at all
        raise ValueError(f"{path.name}: not a PNG image ({exc})") from exc
    raise ValueError(f"{path.name}: not a PNG image (no picture in it)")


def check_png(path: Path) -> tuple[int, int]:
    """Decode the PNG at ``path``; its (width, height). ValueError if it is not a PNG."""
    frame = _read_png(path)
    return frame.width, frame.height


@dataclass
class Watermarked:
    """The watermarked file and where the mark went, in output pixels."""

    output: Output
    x: int
    y: int
    width: int
    height: int


def _check(position: str, margin: int, max_width_fraction: float, crf: int) -> None:
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {', '.join(POSITIONS)}, not {position!r}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, not {margin}")
    if not 0 < max_width_fraction <= 1:
        raise ValueError(f"max_width_fraction must be in (0, 1], not {max_width_fraction}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be in 0..51, not {crf}")


def watermark(source: Path, png: Path, out: Path, *, position: str = "top-right",
              margin: int = 16, max_width_fraction: float = 0.25, preset: str = "veryfast",
              crf: int = 18, threads: int = 0,
              progress: Callable[[float], None] | None = None) -> Watermarked:
    """Write ``out`` (an absolute path to an .mp4): ``source`` with ``png`` blended into
    ``position``. The Output's ``path`` is ``out``'s name (relative to its directory).

    ValueError for a source without video ("watermark needs video"), a PNG that is not
    one, or a bad position, margin, fraction or crf.
    """
    _check(position, margin, max_width_fraction, crf)
    mark = _read_png(png)
    with open_source(source) as container:
        src = describe(container, source)
        if not src.has_video:
            raise ValueError("watermark needs video")
        overlay: Overlay | None = None
        settings = VideoSettings(fps=src.fps, time_base=src.video_time_base or 1 / src.fps,
                                 preset=preset, threads=threads,
                                 keyint=max(1, round(src.fps * Fraction(GOP_SECONDS))))
        clock, durations = KeyframeClock(GOP_SECONDS), FrameDurations(settings)
        tracker = Progress(progress, src.duration)
        out.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
            video = x264_stream(dst, src.width, src.height, settings, crf=crf)
            audio_in = container.streams.audio[0] if src.has_audio else None
            audio_out = dst.add_stream_from_template(audio_in) if audio_in else None
            video_in = container.streams.video[0]
            video_in.thread_type = "AUTO"
            video_in.thread_count = threads
            for packet in container.demux([video_in, *([audio_in] if audio_in else [])]):
                if packet.stream.type == "audio":
                    if audio_out is not None and packet.size and packet.dts is not None:
                        packet.stream = audio_out
                        dst.mux(packet)
                    continue
                for frame in packet.decode():
                    assert isinstance(frame, VideoFrame)
                    tracker.at(frame.time)
                    if (frame.format.name, frame.width, frame.height) != (
                            "yuv420p", src.width, src.height):  # also a mid-stream resize
                        frame = frame.reformat(src.width, src.height, "yuv420p")
                    if overlay is None:
                        overlay = Overlay.place(
                            mark, src.width, src.height, corner=position, margin=margin,
                            max_width=max(1, int(src.width * max_width_fraction)),
                            colorspace=frame.colorspace)
                    clock.mark(frame)
                    durations.remember(frame)
                    dst.mux(durations.restore(video.encode(overlay.apply(frame))))
            dst.mux(durations.restore(video.encode(None)))
    if overlay is None:
        raise ValueError(f"{source}: no video frame decoded")
    output = measure_mp4(out.parent, Path(out.name), WATERMARK_DEFINITION)
    tracker.done()
    logger.info("watermarked %s -> %s (%dx%d mark at %d,%d)", source, out, overlay.width,
                overlay.height, overlay.x, overlay.y)
    return Watermarked(output, overlay.x, overlay.y, overlay.width, overlay.height)
