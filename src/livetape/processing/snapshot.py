"""Still images of a video: snapshots at given offsets and the cover, as JPEG files.

A snapshot at offset t is the first frame whose presentation time is at or after t
(counted from the file's start), the frame a player shows when seeking there with
"accurate" seeking. To get it without decoding the whole file, the demuxer seeks to the
key frame at or before t, and decoding runs forward from there; the offsets are taken in
increasing order on one open container. An offset at or past the video's end is an error
rather than "the last frame", so a wrong offset is noticed; one that falls after the
last frame's start but before its end gets that last frame.

JPEG comes from FFmpeg's ``mjpeg`` encoder (no Pillow): frames are converted by
libswscale to ``yuvj420p`` (full-range 4:2:0, what JPEG/JFIF means), and quality is set
by a fixed quantiser (``qmin = qmax = JPEG_QUALITY``, 2 = best of FFmpeg's 2..31 scale,
about libjpeg quality 90).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation
from av.video.stream import VideoStream

from livetape.processing.decode import open_source

logger = logging.getLogger(__name__)

__all__ = ["Image", "cover", "snapshots"]

JPEG_QUALITY = 3  # FFmpeg qscale, 2 (best) .. 31
COVER_SECONDS = Fraction(1)  # the cover is the frame at 1 s (or mid-way, if shorter)
SNAP_DIR = "snap"
COVER_NAME = "cover.jpg"


@dataclass
class Image:
    """One JPEG written under a job's work dir."""

    time_offset_ms: int
    path: Path  # relative to the work dir: "snap/1000.jpg" or "cover.jpg"
    width: int
    height: int


def snapshots(source: Path, work_dir: Path, offsets_ms: Sequence[int], *,
              width: int | None = None) -> list[Image]:
    """Write ``work_dir/snap/{offset}.jpg`` for each distinct offset (ms), in increasing
    order. ``width`` scales the image keeping the aspect ratio (even height); None keeps
    the source's size. ValueError for an offset past the end, a negative one, a bad
    width or a source without video; every offset is checked before anything is written.
    """
    _check_width(width)
    offsets = sorted(set(offsets_ms))
    with open_source(source) as container:
        vs = _video_stream(container, source)
        start, end = _video_span(container, vs)
        for offset in offsets:
            if offset < 0:
                raise ValueError(f"time offset {offset} ms is negative")
            if Fraction(offset, 1000) >= end - start:
                raise ValueError(
                    f"time offset {offset} ms is past the end ({_seconds(end - start)} s)")
        (work_dir / SNAP_DIR).mkdir(parents=True, exist_ok=True)
        images = []
        for offset in offsets:
            frame = _frame_at(container, vs, start + Fraction(offset, 1000))
            images.append(_write_jpeg(frame, work_dir, Path(SNAP_DIR, f"{offset}.jpg"),
                                      offset, width))
    logger.info("%s: %d snapshots", source, len(images))
    return images


def cover(source: Path, work_dir: Path, *, width: int | None = None) -> Image | None:
    """Write ``work_dir/cover.jpg``: the frame at 1 s, or half-way through a shorter video.
    None (and no file) when the source has no video."""
    _check_width(width)
    with open_source(source) as container:
        if not container.streams.video:
            return None
        vs = container.streams.video[0]
        start, end = _video_span(container, vs)
        offset = min(COVER_SECONDS, (end - start) / 2)
        frame = _frame_at(container, vs, start + offset)
        work_dir.mkdir(parents=True, exist_ok=True)
        return _write_jpeg(frame, work_dir, Path(COVER_NAME), round(offset * 1000), width)


def _check_width(width: int | None) -> None:
    if width is not None and width < 2:
        raise ValueError(f"width must be at least 2, not {width!r}")


def _video_stream(container: InputContainer, source: Path) -> VideoStream:
    if not container.streams.video:
        raise ValueError(f"{source}: no video to take snapshots of")
    return container.streams.video[0]


def _video_span(container: InputContainer, vs: VideoStream) -> tuple[Fraction, Fraction]:
    """Start and end (s) of the video: the file's start, and the end of its video track
    (the whole file's when the track does not say)."""
    start = Fraction(container.start_time or 0, av.time_base)
    if vs.duration and vs.time_base:
        return start, Fraction(vs.start_time or 0) * vs.time_base + vs.duration * vs.time_base
    return start, start + Fraction(container.duration or 0, av.time_base)


def _frame_at(container: InputContainer, vs: VideoStream, t: Fraction) -> VideoFrame:
    """The first frame presented at or after ``t`` seconds (else the last frame)."""
    assert vs.time_base is not None
    container.seek(int(t / vs.time_base), stream=vs, backward=True, any_frame=False)
    last: VideoFrame | None = None
    for packet in container.demux(vs):
        for frame in packet.decode():
            if frame.pts is None or frame.time_base is None:
                continue
            if frame.pts * frame.time_base >= t:
                return frame
            last = frame
    if last is None:
        raise ValueError(f"no video frame decodes at or before {float(t):.3f} s")
    return last


def _write_jpeg(frame: VideoFrame, work_dir: Path, relative: Path, offset_ms: int,
                width: int | None) -> Image:
    w, h = frame.width, frame.height
    if width is not None:
        w, h = width, max(2, 2 * round(width * frame.height / frame.width / 2))
    picture = frame.reformat(w, h, "yuvj420p", interpolation=Interpolation.BICUBIC)
    encoder = av.CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = w, h, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"qmin": str(JPEG_QUALITY), "qmax": str(JPEG_QUALITY)}
    picture.pts = 0
    data = b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])
    (work_dir / relative).write_bytes(data)
    logger.debug("wrote %s (%dx%d, frame at %.3f s, %d bytes)", relative, w, h, frame.time,
                 len(data))
    return Image(offset_ms, relative, w, h)


def _seconds(value: Fraction) -> str:
    """10 -> "10.0", 4.0333 -> "4.033"."""
    text = f"{float(value):.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
