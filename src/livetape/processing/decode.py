"""Reading a source file: what it holds (``Source``), its decoded frames, and progress.

Every processing job starts here. ``open_source`` turns "not a media file" into ValueError
(PyAV's own ``InvalidDataError`` already is one) and refuses files with neither audio nor
video. ``frames`` demuxes the first video and first audio stream together and decodes
each packet as it comes, so a job reads the file exactly once, in file order, and never
holds more than the decoders' few frames in memory.

Timing is the source's: frames keep their own ``pts``/``time_base`` (recordings are
variable frame rate, 1/90000 video clock), and the encoders downstream are given the same
time base, so no frame is dropped, duplicated or moved.

``Progress`` turns "decoded up to t seconds" into at most ~100 calls of the caller's
callback, the last one exactly 1.0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.container import InputContainer
from av.stream import Stream
from av.video.frame import VideoFrame

logger = logging.getLogger(__name__)

DEFAULT_FPS = Fraction(30)  # when a stream states no rate at all
PROGRESS_STEP = 0.01


@dataclass(frozen=True)
class Source:
    """What a source file holds; 0 / None for what it lacks."""

    path: Path
    width: int
    height: int
    duration: float  # seconds: the container's, else the longest stream's
    fps: Fraction  # average video frame rate (VFR sources: the mean), 0 without video
    video_time_base: Fraction | None
    audio_channels: int  # 0 without audio

    @property
    def has_video(self) -> bool:
        return self.width > 0

    @property
    def has_audio(self) -> bool:
        return self.audio_channels > 0


def open_source(path: Path) -> InputContainer:
    """Open ``path`` for reading; ValueError if it is not a media file with audio or video."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except av.error.InvalidDataError as exc:
        raise ValueError(f"{path}: not a media file ({exc})") from exc
    if not container.streams.video and not container.streams.audio:
        container.close()
        raise ValueError(f"{path}: no audio or video stream")
    return container


def describe(container: InputContainer, path: Path) -> Source:
    """The ``Source`` of an open container (first video and first audio stream)."""
    width = height = channels = 0
    fps = Fraction(0)
    time_base: Fraction | None = None
    if container.streams.video:
        vs = container.streams.video[0]
        width, height = vs.codec_context.width, vs.codec_context.height
        rate = vs.average_rate or vs.guessed_rate or DEFAULT_FPS
        fps = Fraction(rate).limit_denominator(1001)
        time_base = vs.time_base
    if container.streams.audio:
        channels = container.streams.audio[0].codec_context.channels
    return Source(path, width, height, _duration(container), fps, time_base, channels)


def _duration(container: InputContainer) -> float:
    if container.duration:
        return container.duration / av.time_base
    ends = [float((s.start_time or 0) + s.duration) * float(s.time_base)
            for s in container.streams if s.duration and s.time_base]
    return max(ends, default=0.0)


def frames(container: InputContainer, *, video: bool = True, audio: bool = True,
           threads: int = 0, progress: Progress | None = None
           ) -> Iterator[VideoFrame | AudioFrame]:
    """Decode the first video and/or audio stream in file order, then flush the decoders.

    ``threads`` is the video decoder's thread count (0: one per core).
    """
    streams: list[Stream] = []
    if video and container.streams.video:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"  # frame + slice threads: decoding 1080p is not the bottleneck
        vs.thread_count = threads
        streams.append(vs)
    if audio and container.streams.audio:
        streams.append(container.streams.audio[0])
    if not streams:
        return
    for packet in container.demux(streams):  # ends with one empty packet per stream: flush
        for frame in packet.decode():
            if not isinstance(frame, VideoFrame | AudioFrame):
                continue
            if progress is not None and frame.time is not None:
                progress.at(frame.time)
            yield frame


class Progress:
    """Report ``seconds / duration`` to ``callback`` in steps of 1 %, ending with 1.0."""

    def __init__(self, callback: Callable[[float], None] | None, duration: float) -> None:
        self._callback = callback
        self._duration = duration
        self._last = -1.0

    def at(self, seconds: float) -> None:
        """Decoding has reached ``seconds`` (source time)."""
        if self._callback is None or self._duration <= 0:
            return
        fraction = min(max(seconds / self._duration, 0.0), 1.0)
        if fraction >= self._last + PROGRESS_STEP and fraction < 1.0:
            self._last = fraction
            self._callback(fraction)

    def done(self) -> None:
        """The job finished: report 1.0 (once)."""
        if self._callback is not None and self._last < 1.0:
            self._last = 1.0
            self._callback(1.0)
