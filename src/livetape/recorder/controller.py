"""One recording's lifecycle: wait for a key frame, align audio to video, cut segments, close.

Samples arrive from a :class:`MediaSource` listener and are handled in order by one task,
the stream's pre-roll first (its samples from the latest key frame on), so a video recording
starts on the latest key frame at or before its request; without one it asks for one (PLI).
Audio is placed by the sender's clock (RTCP sender reports) so both tracks of a file share
one timeline; until the reports are in (``sync_wait`` at most), the samples from the start
key frame on are held, not dropped, and written once the file can start. A cut happens on
the first key frame from ``segment_seconds - keyframe_request_lead_seconds`` on (a key frame
is requested then): video before it and audio timed before it stay in the old file, the
rest goes to the new one, so consecutive files neither overlap nor leave a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from livetape.recorder.alignment import AUDIO_RATE, AvAlignment
from livetape.recorder.bitstream import is_complete
from livetape.recorder.media_source import MediaSource, Sample
from livetape.recorder.sink import Mp4Sink
from livetape.recorder.vp8_to_h264 import Vp8ToH264, h264_picture_size

log = logging.getLogger(__name__)

VIDEO_RATE = 90000
LATE_AUDIO_GRACE = 1.0  # seconds the previous file stays open for audio timed before a cut
# an audio-only recording starts this long before its request (covers the request's latency)
AUDIO_ONLY_PREROLL = 0.5
# queued by the timer so that closing the previous file happens in the consumer, in order
_CLOSE_PREVIOUS = "close-previous"


@dataclass(frozen=True)
class Limits:
    segment_seconds: float
    idle_timeout_seconds: float
    fragment_seconds: float
    keyframe_request_lead_seconds: float
    keyframe_request_interval_seconds: float
    sync_wait_seconds: float


class Events(Protocol):
    """What the recorder tells its owner (the recording service)."""

    async def segment_opened(self, seq: int, part: Path) -> None: ...

    async def segment_closed(self, seq: int, part: Path) -> None: ...

    async def ended(self, reason: str) -> None:
        """The recorder ended by itself ("idle" timeout, "failed"); not called for stop()."""
        ...


@dataclass
class _Segment:
    seq: int
    sink: Mp4Sink
    video_zero: int  # video ts at pts 0
    audio_zero: int | None  # audio ts at pts 0 (None until known)


class RecordingController:
    """Records one published stream into numbered fragmented-MP4 segments."""

    def __init__(
        self,
        recording_id: str,
        source: MediaSource,
        *,
        audio_only: bool,
        work_dir: Path,
        limits: Limits,
        events: Events,
        first_seq: int = 1,
    ) -> None:
        self.recording_id = recording_id
        self.source = source
        self.video = not audio_only and "video" in source.kinds
        self.audio = "audio" in source.kinds
        self.work_dir = work_dir
        self.limits = limits
        self.events = events
        self.samples_received = {"audio": 0, "video": 0}
        self._queue: asyncio.Queue[Sample | str | None] = asyncio.Queue()
        self._segment: _Segment | None = None
        self._previous: _Segment | None = None  # open for late audio after a cut
        self._cut_at = 0.0
        self._cut_requested = False
        self._seq = first_seq - 1  # a resumed recording continues its files' numbers
        self._last_media = time.monotonic()
        self._last_keyframe_request = 0.0
        self._keyframe_arrival = 0.0  # of the key frame the current file started on
        self._requested_at = 0.0  # when start() was called (monotonic)
        self._keyframes_queued = 0
        # before the first file: the start key frame and what followed it, as
        # (sample, data, keyframe); data is H.264 (a VP8 stream's is converted)
        self._held: list[tuple[Sample, bytes, bool]] = []
        self._alignment = AvAlignment(source, has_audio=self.audio,
                                      sync_wait=limits.sync_wait_seconds)
        self._transcoder = Vp8ToH264() if self.video and source.codec("video") == "vp8" else None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Future[None] | None = None
        self._failure: asyncio.Task[None] | None = None
        self.written = {"audio": 0, "video": 0}
        self.dropped = 0  # damaged video frames left out (and those that depend on them)
        self._broken = False  # video lost its references: waiting for a key frame

    @property
    def segment_seq(self) -> int:
        """The number of the file being written (1, 2, ... or from ``first_seq`` on); 0 until
        the first key frame."""
        return self._segment.seq if self._segment is not None else 0

    # lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._requested_at = time.monotonic()
        self.source.subscribe(self._on_sample, preroll=True)
        if self.video and not self._keyframes_queued:
            self._request_keyframe()  # the pre-roll has no key frame to start on
        self._tasks = [
            asyncio.create_task(self._consume(), name=f"rec-{self.recording_id}"),
            asyncio.create_task(self._watch(), name=f"rec-watch-{self.recording_id}"),
        ]

    async def stop(self) -> None:
        """Stop taking media, flush and close the open segment(s). Idempotent."""
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_future()
            try:
                self.source.unsubscribe(self._on_sample)
                self._queue.put_nowait(None)
                consumer, watcher = self._tasks or (None, None)
                if watcher is not None and watcher is not asyncio.current_task():
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
                if consumer is not None:
                    await consumer  # drains queued samples, then closes segments
                else:
                    await self._close_all()
            finally:
                self._stopping.set_result(None)
        await self._stopping

    # media path --------------------------------------------------------------------------

    def _on_sample(self, sample: Sample) -> None:
        self._last_media = time.monotonic()
        self.samples_received[sample.kind] += 1
        self._keyframes_queued += sample.keyframe and sample.kind == "video"
        self._queue.put_nowait(sample)

    async def _consume(self) -> None:
        failed = False
        try:
            while (sample := await self._queue.get()) is not None:
                if isinstance(sample, str):  # _CLOSE_PREVIOUS
                    await self._close_previous()
                elif sample.kind == "audio":
                    await self._on_audio(sample)
                elif self.video:
                    await self._on_video(sample)
        except Exception:
            # never leave a recording that takes media but writes none: end it, keep the files
            log.exception("%s: recording failed; what was written is kept", self.recording_id)
            self.source.unsubscribe(self._on_sample)
            failed = True
        finally:
            await self._close_all()
        if failed:
            self._failure = asyncio.create_task(self.events.ended("failed"))

    async def _on_video(self, sample: Sample) -> None:
        if sample.after_gap or not is_complete(sample.codec, sample.data):
            # frames were lost (unrecovered packet loss), or this one is damaged (it would
            # make the whole file unreadable): what follows lacks its references and would
            # decode with errors, so frames are left out up to the next key frame, asked for
            if not self._broken:
                self._request_keyframe()
            self._broken = True
        if self._broken:
            if not (sample.keyframe and is_complete(sample.codec, sample.data)):
                self.dropped += 1
                return
            self._broken = False
        data, keyframe = sample.data, sample.keyframe
        if self._transcoder is not None:
            # decoding + encoding is CPU work: off the event loop, still one frame at a time
            converted = await asyncio.to_thread(
                self._transcoder.convert, data, sample.ts, keyframe)
            if not converted:
                return
            data, keyframe = converted[0]
        if self._segment is None:
            if keyframe or self._held:
                self._held.append((sample, data, keyframe))
                await self._start_held()
            return
        await self._write_video(sample, data, keyframe)

    async def _write_video(self, sample: Sample, data: bytes, keyframe: bool) -> None:
        segment = self._segment
        assert segment is not None
        # The key frame asked for ``lead`` before the boundary may arrive just before it:
        # it is the one to cut on, so cuts land within ``lead`` of every boundary.
        elapsed = (sample.ts - segment.video_zero) / VIDEO_RATE
        cut_from = self.limits.segment_seconds - self.limits.keyframe_request_lead_seconds
        if elapsed >= cut_from and not self._cut_requested:
            self._cut_requested = True
            self._request_keyframe()
        if elapsed >= cut_from and keyframe:
            if (size := await self._picture_size(data)) is not None:
                await self._cut(sample, size)
                segment = self._segment
                assert segment is not None
        segment.sink.write_video(data, sample.ts - segment.video_zero, keyframe)
        self.written["video"] += 1

    async def _on_audio(self, sample: Sample) -> None:
        self._alignment.note_audio(sample)
        if not self.video:
            await self._on_audio_only(sample)
            return
        if self._segment is None:
            if self._held:  # placed once the file starts
                self._held.append((sample, sample.data, False))
                await self._start_held()
            return  # (else before the first key frame)
        await self._write_audio(sample)

    async def _write_audio(self, sample: Sample) -> None:
        segment = self._segment
        assert segment is not None
        if segment.audio_zero is None:
            segment.audio_zero = self._alignment.audio_zero_from_arrival(
                sample, self._keyframe_arrival)
        pts = sample.ts - segment.audio_zero
        previous = self._previous
        if previous is not None and previous.audio_zero is not None:
            if pts < 0:
                previous.sink.write_audio(sample.data, sample.ts - previous.audio_zero)
                self.written["audio"] += 1
                return
            await self._close_previous()
        if pts >= 0:
            segment.sink.write_audio(sample.data, pts)
            self.written["audio"] += 1

    async def _on_audio_only(self, sample: Sample) -> None:
        segment = self._segment
        if segment is None and sample.arrival < self._requested_at - AUDIO_ONLY_PREROLL:
            return  # pre-roll kept for video, longer than an audio file needs
        if segment is not None and segment.audio_zero is not None:
            if sample.ts - segment.audio_zero >= self.limits.segment_seconds * AUDIO_RATE:
                await self._finish(segment)
                segment = None
        if segment is None:
            segment = await self._new_segment(None, video_zero=0, audio_zero=sample.ts)
        assert segment.audio_zero is not None
        segment.sink.write_audio(sample.data, sample.ts - segment.audio_zero)
        self.written["audio"] += 1

    async def _start_held(self) -> None:
        """Open the first file on the held key frame once A/V can be aligned, and write what
        was held after it; until then keep holding (the ``sync_wait`` bound ends the wait)."""
        size = None
        while self._held and size is None:
            if not self._alignment.ready(self._held[0][0]):
                return
            if (size := await self._picture_size(self._held[0][1])) is None:
                # unreadable: start on the next held key frame, if any
                later = [i for i, (_, _, key) in enumerate(self._held) if key and i > 0]
                self._held = self._held[later[0]:] if later else []
        if size is None:
            return
        held, self._held = self._held, []
        await self._open(held[0][0], size)
        for sample, data, keyframe in held:
            if sample.kind == "video":
                await self._write_video(sample, data, keyframe)
            else:
                await self._write_audio(sample)

    # segments ----------------------------------------------------------------------------

    async def _picture_size(self, keyframe_data: bytes) -> tuple[int, int] | None:
        """The key frame's picture size; None (and another key frame asked for) if unreadable."""
        if self._transcoder is not None:
            return self._transcoder.size
        size = await asyncio.to_thread(h264_picture_size, keyframe_data)
        if size is None:
            log.warning("%s: a key frame could not be read; waiting for another",
                        self.recording_id)
            self._request_keyframe()
        return size

    async def _open(self, keyframe: Sample, size: tuple[int, int]) -> None:
        self._keyframe_arrival = keyframe.arrival
        log.info("%s: starts at key frame ts=%d (received %+.2f s from the request); audio "
                 "aligned by %s", self.recording_id, keyframe.ts,
                 keyframe.arrival - self._requested_at,
                 "sender reports" if self._alignment.by_reports(keyframe) else "arrival")
        await self._new_segment(size, keyframe.ts, self._alignment.audio_zero(keyframe))

    async def _new_segment(
        self, size: tuple[int, int] | None, video_zero: int, audio_zero: int | None
    ) -> _Segment:
        self._seq += 1
        part = self.work_dir / f"segment-{self._seq:04d}.part.mp4"
        await self.events.segment_opened(self._seq, part)
        sink = Mp4Sink(
            part, video_size=size, audio=self.audio,
            fragment_seconds=self.limits.fragment_seconds,
        )
        sink.open()
        self._segment = _Segment(self._seq, sink, video_zero, audio_zero)
        self._cut_requested = False
        log.info("%s: segment %d opened (%s)", self.recording_id, self._seq, part.name)
        return self._segment

    async def _cut(self, keyframe: Sample, size: tuple[int, int]) -> None:
        old = self._segment
        assert old is not None
        await self._close_previous()
        audio_zero = self._alignment.audio_zero(keyframe)
        if audio_zero is None and old.audio_zero is not None:
            audio_zero = old.audio_zero + round(
                (keyframe.ts - old.video_zero) * AUDIO_RATE / VIDEO_RATE
            )
        self._keyframe_arrival = keyframe.arrival
        await self._new_segment(size, keyframe.ts, audio_zero)
        if self.audio and old.audio_zero is not None:
            self._previous, self._cut_at = old, time.monotonic()
        else:
            await self._finish(old)

    async def _close_previous(self) -> None:
        previous, self._previous = self._previous, None
        if previous is not None:
            await self._finish(previous)

    async def _finish(self, segment: _Segment) -> None:
        segment.sink.close()
        if self._segment is segment:
            self._segment = None
        log.info("%s: segment %d closed", self.recording_id, segment.seq)
        await self.events.segment_closed(segment.seq, segment.sink.path)

    async def _close_all(self) -> None:
        await self._close_previous()
        if self._segment is not None:
            await self._finish(self._segment)

    # timers ------------------------------------------------------------------------------

    def _request_keyframe(self) -> None:
        self._last_keyframe_request = time.monotonic()
        self.source.request_keyframe()

    async def _watch(self) -> None:
        tick = min(0.25, self.limits.idle_timeout_seconds / 4)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - self._last_media >= self.limits.idle_timeout_seconds:
                log.info("%s: no media for %.1f s, closing", self.recording_id,
                         now - self._last_media)
                await self.stop()
                await self.events.ended("idle")
                return
            waiting = ((self._segment is None and not self._held) or self._cut_requested
                       or self._broken)
            interval = self.limits.keyframe_request_interval_seconds
            if self.video and waiting and now - self._last_keyframe_request >= interval:
                self._request_keyframe()
            if self._previous is not None and now - self._cut_at >= LATE_AUDIO_GRACE:
                self._queue.put_nowait(_CLOSE_PREVIOUS)

