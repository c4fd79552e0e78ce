"""The recorder on its own, fed real encoded frames by a replaying source.

Over WebRTC these conditions (a damaged frame after packet loss, a part FFmpeg cannot read)
are hard to produce on demand; here they are exact.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from livetape.client.media import EncodedMedia
from livetape.live.preroll import Preroll
from livetape.recorder.bitstream import is_complete, is_keyframe
from livetape.recorder.controller import Limits, RecordingController
from livetape.recorder.finalize import UnreadablePart, remux
from livetape.recorder.media_source import Listener, Sample
from livetape_harness.media_checks import probe

LIMITS = Limits(segment_seconds=60, idle_timeout_seconds=30, fragment_seconds=1,
                keyframe_request_lead_seconds=0.2, keyframe_request_interval_seconds=1,
                sync_wait_seconds=0)


class Replay:
    """A MediaSource that plays back pre-encoded video frames as the recorder would get them."""

    kinds = {"video"}

    def __init__(self, preroll: Preroll | None = None) -> None:
        self.listeners: list[Listener] = []
        self.keyframe_requests = 0
        self.preroll = preroll or Preroll(0, 0)

    def codec(self, kind: str) -> str | None:
        return "h264" if kind == "video" else None

    def subscribe(self, listener: Listener, *, preroll: bool = False) -> None:
        for sample in self.preroll.samples() if preroll else []:
            listener(sample)
        self.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1

    def mapped_at(self, kind: str, sender_time: float) -> int | None:
        return None

    def sender_time(self, kind: str, ts: int) -> float | None:
        return None

    def send(self, data: bytes, ts: int) -> None:
        sample = Sample("video", "h264", data, ts, 90000, is_keyframe("h264", data),
                        time.monotonic(), None)
        self.preroll.add(sample)
        for listener in self.listeners:
            listener(sample)


class Closed:
    def __init__(self, fail_opening: bool = False) -> None:
        self.parts: list[tuple[int, Path]] = []
        self.ended_with: list[str] = []
        self.fail_opening = fail_opening

    async def segment_opened(self, seq: int, part: Path) -> None:
        if self.fail_opening:
            raise RuntimeError("database unavailable")

    async def segment_closed(self, seq: int, part: Path) -> None:
        self.parts.append((seq, part))

    async def ended(self, reason: str) -> None:
        self.ended_with.append(reason)


async def started(tmp_path: Path, events: Closed) -> tuple[RecordingController, Replay]:
    """A video-only recorder fed by a fresh Replay source, already started."""
    source = Replay()
    controller = RecordingController("rec_test", source, audio_only=False, work_dir=tmp_path,
                                     limits=LIMITS, events=events)
    await controller.start()
    return controller, source


async def test_damaged_frames_are_left_out_and_the_file_stays_readable(tmp_path: Path) -> None:
    media = EncodedMedia.synthetic(2.0, width=320, height=240, audio=False, flash_every=None)
    events = Closed()
    controller, source = await started(tmp_path, events)
    requests_before = source.keyframe_requests
    for i, packet in enumerate(media.video):
        data = bytes(packet)
        if i == 20:  # the middle pieces of a fragmented frame, as aiortc hands them over
            data = b"\x7c\x05" + data[200:900]
        source.send(data, i * 3000)
        await asyncio.sleep(0)
    await controller.stop()
    # it, and the frames after it up to the next key frame (frame 30): they lack a reference
    left_out = media.keyframe_interval - 20
    assert controller.dropped == left_out and source.keyframe_requests > requests_before
    ((seq, part),) = events.parts
    assert seq == 1
    final = tmp_path / "final.mp4"
    assert remux(part, final)
    info = probe(final)
    assert info["video"]["frames"] == media.video_frame_count - left_out
    assert info["video"]["first_keyframe"] is True


async def test_an_unreadable_key_frame_is_skipped(tmp_path: Path) -> None:
    media = EncodedMedia.synthetic(2.0, width=320, height=240, audio=False, flash_every=None)
    events = Closed()
    controller, source = await started(tmp_path, events)
    broken = b"\x00\x00\x00\x01\x67\xff\xff\x00\x00\x00\x01\x68\xff\x00\x00\x00\x01\x65" + bytes(64)
    source.send(broken, 0)  # an IDR with SPS and PPS, none of them readable
    for i, packet in enumerate(media.video[1:], start=1):
        source.send(bytes(packet), i * 3000)
        await asyncio.sleep(0)
    await controller.stop()
    ((_, part),) = events.parts
    final = tmp_path / "final.mp4"
    assert remux(part, final)
    info = probe(final)  # starts at the next key frame, one second in
    assert info["video"]["frames"] == media.video_frame_count - media.keyframe_interval
    assert info["video"]["first_keyframe"] is True


async def test_a_failing_recording_ends_itself_and_stops_taking_media(tmp_path: Path) -> None:
    media = EncodedMedia.synthetic(0.5, width=160, height=120, audio=False)
    events = Closed(fail_opening=True)
    controller, source = await started(tmp_path, events)
    for i, packet in enumerate(media.video):
        source.send(bytes(packet), i * 3000)
        await asyncio.sleep(0)
    for _ in range(100):  # the key frame's size is read in a worker thread first
        if events.ended_with:
            break
        await asyncio.sleep(0.02)
    assert events.ended_with == ["failed"]
    assert source.listeners == []  # unsubscribed: nothing queues up any more
    await controller.stop()  # still safe, and idempotent


async def test_a_recording_starts_with_the_pre_roll_then_goes_on_live(tmp_path: Path) -> None:
    """Started mid-GOP, the file begins at the GOP's key frame: each frame once, none missing."""
    media = EncodedMedia.synthetic(3.0, width=160, height=120, audio=False, flash_every=None)
    gop = media.keyframe_interval  # 1 s
    source = Replay(Preroll(4.0, 1 << 20))
    events = Closed()
    frames = [bytes(p) for p in media.video]
    start_at = gop + gop // 2  # the middle of the second GOP
    for i, data in enumerate(frames[:start_at]):
        source.send(data, i * 3000)
    assert source.preroll.samples()[0].keyframe and len(source.preroll.samples()) == gop // 2
    controller = RecordingController("rec_test", source, audio_only=False, work_dir=tmp_path,
                                     limits=LIMITS, events=events)
    await controller.start()
    assert source.keyframe_requests == 0  # the pre-roll has a key frame: nothing to ask for
    for i, data in enumerate(frames[start_at:], start=start_at):
        source.send(data, i * 3000)
        await asyncio.sleep(0)
    await controller.stop()
    ((_, part),) = events.parts
    final = tmp_path / "final.mp4"
    assert remux(part, final)
    info = probe(final)
    assert info["video"]["first_keyframe"] is True
    assert info["video"]["frames"] == len(frames) - gop
    assert info["video"]["start"] == 0 and abs(info["video"]["end"] - 2.0) < 0.001


def test_an_unreadable_part_is_an_error_not_an_empty_file(tmp_path: Path) -> None:
    part = tmp_path / "segment-0001.part.mp4"
    part.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"garbage" * 100)
    with pytest.raises(UnreadablePart):
        remux(part, tmp_path / "out.mp4")
    assert part.exists()
    missing = tmp_path / "never-written.part.mp4"
    assert remux(missing, tmp_path / "out.mp4") is False


def test_complete_frame_checks() -> None:
    media = EncodedMedia.synthetic(0.2, width=160, height=120, audio=False)
    assert all(is_complete("h264", bytes(p)) for p in media.video)
    assert not is_complete("h264", b"")
    assert not is_complete("h264", b"\x7c\x05" + bytes(media.video[0])[10:])
    assert not is_complete("h264", b"\x00\x00\x00\x01\x67\x42")  # SPS alone: no picture
    assert is_complete("opus", b"\x78") and not is_complete("opus", b"")
