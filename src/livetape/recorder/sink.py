"""Writes one segment as fragmented MP4 with PyAV, without re-encoding.

Fragmented MP4 (empty moov, a fragment at each key frame and at least every
``fragment_seconds``, every packet flushed to the OS) survives a kill -9 of the server
with at most one fragment lost; :mod:`livetape.recorder.finalize` turns it into a
standard MP4 once the segment closes.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer

from livetape.recorder.bitstream import opus_samples

log = logging.getLogger(__name__)

VIDEO_TIME_BASE = Fraction(1, 90000)
AUDIO_TIME_BASE = Fraction(1, 48000)


class Mp4Sink:
    """One output file. ``open()`` lazily on the first packet, ``close()`` is idempotent."""

    def __init__(
        self,
        path: Path,
        *,
        video_size: tuple[int, int] | None,
        audio: bool,
        fragment_seconds: float,
    ) -> None:
        self.path = path
        self.video_size = video_size
        self.audio = audio
        self.fragment_seconds = fragment_seconds
        self.last_audio_end = 0
        self._container: OutputContainer | None = None
        self._vstream: av.stream.Stream | None = None
        self._astream: av.stream.Stream | None = None
        # the newest video frame waits for its successor so its duration is known
        self._pending_video: tuple[bytes, int, bool] | None = None
        self._last_video_duration = 3000
        self._closed = False

    def open(self) -> None:
        options = {
            "movflags": "frag_keyframe+empty_moov+default_base_moof",
            "frag_duration": str(int(self.fragment_seconds * 1_000_000)),
            "flush_packets": "1",
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format="mp4", options=options)
        if self.video_size is not None:
            width, height = self.video_size
            self._vstream = container.add_mux_stream("h264", width=width, height=height)
            self._vstream.time_base = VIDEO_TIME_BASE
        if self.audio:
            # A libopus stream (never fed frames) gives the muxer a valid OpusHead extradata,
            # which MP4 requires and a bare mux stream lacks.
            self._astream = container.add_stream("libopus", rate=48000, layout="stereo")
            self._astream.time_base = AUDIO_TIME_BASE
        self._container = container

    def write_video(self, data: bytes, pts: int, keyframe: bool) -> None:
        """Queue an H.264 Annex-B access unit at ``pts`` (1/90000 s)."""
        if self._closed or self._vstream is None or not data:
            return
        if self._container is None:
            self.open()
        if self._pending_video is not None:
            prev_data, prev_pts, prev_key = self._pending_video
            if pts <= prev_pts:  # repeated or reordered timestamp: keep time moving forward
                pts = prev_pts + 1
            self._last_video_duration = pts - prev_pts
            self._mux_video(prev_data, prev_pts, prev_key, self._last_video_duration)
        self._pending_video = (data, pts, keyframe)

    def _mux_video(self, data: bytes, pts: int, keyframe: bool, duration: int) -> None:
        assert self._container is not None and self._vstream is not None
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.duration = duration
        packet.time_base = VIDEO_TIME_BASE
        packet.is_keyframe = keyframe
        packet.stream = self._vstream
        self._container.mux(packet)

    def write_audio(self, data: bytes, pts: int) -> None:
        """Write one Opus packet at ``pts`` (1/48000 s)."""
        if self._closed or self._astream is None or not data:
            return
        if self._container is None:
            self.open()
        assert self._container is not None
        if pts < self.last_audio_end:  # overlap (sender clock jitter): never go backwards
            pts = self.last_audio_end
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.duration = opus_samples(data) or 960
        packet.time_base = AUDIO_TIME_BASE
        packet.stream = self._astream
        self._container.mux(packet)
        self.last_audio_end = pts + packet.duration

    def close(self) -> None:
        """Write what is pending and the trailer. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._container is None:
            return
        try:
            if self._pending_video is not None:
                data, pts, key = self._pending_video
                self._pending_video = None
                self._mux_video(data, pts, key, self._last_video_duration)
            self._container.close()
        except (av.FFmpegError, ValueError):
            log.exception("closing %s failed; the fragments on disk are kept", self.path)
