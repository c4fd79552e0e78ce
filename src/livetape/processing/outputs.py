"""What a finished rendition is (``Output``), measured back from the files written.

The numbers a job reports (the library stores them and bills by them) come from reading
the outputs again, not from the settings asked for: x264's average bitrate is a target,
and a file that cannot be opened should fail the job here rather than a viewer later.
Measuring only demuxes (no decoding), so it costs reading the file once more.

- ``duration``: MP4, the container's duration (movie header, edit lists applied: what a
  player shows, AAC priming excluded); HLS, the sum of the playlist's ``#EXTINF``.
- ``video_bitrate``: bytes of video packets x 8 / the video stream's span (first packet's
  start to the last one's end), container overhead and audio excluded.
- ``size``: every byte the rendition stores (HLS: its playlist plus all its segments;
  the master playlist is shared and not counted).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av

from livetape.processing.hls import read_playlist

logger = logging.getLogger(__name__)


@dataclass
class Output:
    """One rendition written under a job's work dir."""

    definition: int
    container: str  # "mp4" | "hls"
    path: Path  # relative to the work dir: "f10.mp4" or "hls/210/index.m3u8"
    width: int  # 0: audio only
    height: int
    video_bitrate: int  # bits/s of video, measured
    duration: float  # seconds, measured
    size: int  # bytes of every object of this rendition


@dataclass
class _Tally:
    """Video packets of one or more files read in order (segments of one stream)."""

    width: int = 0
    height: int = 0
    video_bytes: int = 0
    start: float | None = None
    end: float | None = None

    @property
    def video_bitrate(self) -> int:
        if self.start is None or self.end is None or self.end <= self.start:
            return 0
        return round(self.video_bytes * 8 / (self.end - self.start))


def _tally(paths: Iterable[Path]) -> _Tally:
    tally = _Tally()
    for path in paths:
        with av.open(str(path)) as container:
            if not container.streams.video:
                continue
            vs = container.streams.video[0]
            if not tally.width:
                tally.width, tally.height = vs.codec_context.width, vs.codec_context.height
            for packet in container.demux(vs):
                if packet.pts is None or not packet.size:
                    continue
                tally.video_bytes += packet.size
                t0 = float(packet.pts * packet.time_base)
                t1 = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                tally.start = t0 if tally.start is None else min(tally.start, t0)
                tally.end = t1 if tally.end is None else max(tally.end, t1)
    return tally


def measure_mp4(work_dir: Path, relative: Path, definition: int) -> Output:
    """Measure a finished MP4 rendition at ``work_dir / relative``."""
    path = work_dir / relative
    with av.open(str(path)) as container:
        duration = (container.duration or 0) / av.time_base
    tally = _tally([path])
    output = Output(definition, "mp4", relative, tally.width, tally.height,
                    tally.video_bitrate, duration, path.stat().st_size)
    logger.info("rendition %d: %s %dx%d %.3f s video %d bit/s, %d bytes", definition, relative,
                output.width, output.height, duration, output.video_bitrate, output.size)
    return output


@dataclass(frozen=True)
class MeasuredHls:
    """An HLS rendition's ``Output`` plus its segments' (duration, bits), for BANDWIDTH."""

    output: Output
    segment_bits: list[tuple[float, int]]


def measure_hls(work_dir: Path, relative: Path, definition: int) -> MeasuredHls:
    """Measure a finished HLS rendition whose media playlist is ``work_dir / relative``."""
    playlist = work_dir / relative
    segments = read_playlist(playlist)
    files = [playlist.parent / s.uri for s in segments]
    sizes = [f.stat().st_size for f in files]
    tally = _tally(files)
    duration = sum(s.duration for s in segments)
    output = Output(definition, "hls", relative, tally.width, tally.height,
                    tally.video_bitrate, duration, playlist.stat().st_size + sum(sizes))
    logger.info("rendition %d: %s %dx%d %.3f s in %d segments, video %d bit/s, %d bytes",
                definition, relative, output.width, output.height, duration, len(segments),
                output.video_bitrate, output.size)
    return MeasuredHls(output, [(s.duration, 8 * n) for s, n in zip(segments, sizes,
                                                                      strict=True)])
