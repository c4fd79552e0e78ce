"""Pre-roll: a recording holds the moment it was asked for, whatever the publisher.

The publisher is livetape's own WHIP publisher: it sends pre-encoded H.264 with a key frame
every 2 s, and aiortc's sender cannot honour PLI for pre-encoded frames, so it stands for the
publishers that ignore key frame requests (FFmpeg, OBS with a fixed key frame interval,
hardware encoders). Without pre-roll, such a recording begins at the key frame after the
request; with it, at the key frame before.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import av

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.live.preroll import Preroll
from livetape.recorder.controller import AUDIO_ONLY_PREROLL
from livetape.recorder.media_source import Sample
from livetape_harness.flow import download, files_of, publishing
from livetape_harness.media_checks import flash_times, probe
from livetape_harness.server import LiveServer, ServerFactory
from tests.recording.test_recording import AUDIO_SHORT, assert_in_sync

FPS = 30
GOP = 2.0  # seconds between the publisher's key frames
RECORD_SECONDS = 9.0


def clip(seconds: float) -> EncodedMedia:
    # flashes every 2.5 s against key frames every 2 s: the first flash in a file tells which
    # key frame the file began on (the pattern repeats only every 10 s)
    return EncodedMedia.synthetic(seconds, width=320, height=240, fps=FPS, gop_seconds=GOP,
                                  flash_every=2.5)


@dataclass
class Recorded:
    path: Path
    requested: float  # media time (s) at which the start request was sent
    began: float  # media time of the file's first frame

    @property
    def gap(self) -> float:
        """Seconds between the request and the file's start (negative: the file begins
        earlier, the moment asked for is in it)."""
        return self.began - self.requested


async def record(server: LiveServer, media: EncodedMedia, tmp_path: Path, *,
                 request_at: float, seconds: float) -> Recorded:
    """alice publishes ``media``; start recording at media time ``request_at``, stop
    ``seconds`` after the start request was answered; the downloaded file."""
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, media) as publisher:
            while publisher.started_at is None:
                await asyncio.sleep(0.005)
            await asyncio.sleep(max(0.0, publisher.started_at + request_at - time.time()))
            requested = time.time() - publisher.started_at
            await api.start_recording("room-1", "asked", user_id="alice")
            await asyncio.sleep(seconds)
            await api.stop_recording("room-1", user_id="alice")
        (entry,) = await files_of(api, "asked")
        path = await download(entry["play_set"][0]["url"], tmp_path / "asked.mp4")
    first_flash = flash_times(path)[0]
    # the file began on a key frame (a multiple of GOP) that its first flash fits
    starts = [s - first_flash for s in media.flash_times if s >= first_flash]
    began = min(t for t in starts if abs(t / GOP - round(t / GOP)) < 0.01)
    recorded = Recorded(path, requested, round(began, 3))
    print(f"requested at {requested:.3f} s, file begins at {recorded.began:.3f} s: "
          f"gap {recorded.gap:+.3f} s")
    return recorded


def keyframe_spacing(path: Path) -> set[int]:
    """Frames between consecutive key frames in a file's video."""
    with av.open(str(path)) as container:
        keys = [i for i, p in enumerate(p for p in container.demux(video=0) if p.size)
                if p.is_keyframe]
    return {b - a for a, b in pairwise(keys)}


async def test_a_recording_holds_the_moment_it_was_asked_for(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """The issue's test: 2 s GOP, PLI ignored, stopped 9 s after it started: >= 9 s."""
    server = start_server()
    media = clip(14.0)
    # mid-GOP, well after the first sender reports (aiortc sends one within 1.5 s)
    rec = await record(server, media, tmp_path, request_at=3.0, seconds=RECORD_SECONDS)
    assert rec.began == 2.0 and rec.began <= rec.requested  # the key frame before the request
    info = probe(rec.path)
    assert info["video"]["first_keyframe"] is True
    assert keyframe_spacing(rec.path) == {round(GOP * FPS)}  # no key frame came on request
    assert info["duration"] >= RECORD_SECONDS
    assert info["video"]["frames"] >= RECORD_SECONDS * FPS
    assert info["audio"]["samples"] / 48000 >= info["duration"] - AUDIO_SHORT
    assert_in_sync(rec.path)


async def test_a_recording_asked_for_before_sender_reports_starts_in_sync(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """Asked for before the first RTCP sender report: the pre-roll's key frame (stamped
    before any report) is held until one arrives, then placed; A/V stay within 40 ms."""
    server = start_server()
    media = clip(7.0)
    rec = await record(server, media, tmp_path, request_at=0.2, seconds=5.0)
    assert rec.began == 0.0
    info = probe(rec.path)
    assert info["video"]["first_keyframe"] is True and info["duration"] >= 5.0
    assert info["audio"]["samples"] / 48000 >= info["duration"] - AUDIO_SHORT
    assert len(assert_in_sync(rec.path)) >= 2  # flash + beep at 0.5 s and 3 s


async def test_without_pre_roll_a_recording_waits_for_the_next_key_frame(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """LIVETAPE_PREROLL_SECONDS=0: as before, the file begins at the key frame after the
    request, and what came between is not in it."""
    server = start_server(preroll_seconds=0)
    media = clip(7.0)
    rec = await record(server, media, tmp_path, request_at=3.0, seconds=3.0)
    assert rec.began == 4.0 and rec.began > rec.requested
    info = probe(rec.path)
    assert info["video"]["first_keyframe"] is True and info["duration"] < 3.0
    assert_in_sync(rec.path)


# the buffer itself -----------------------------------------------------------------------

def video(at: float, *, key: bool = False, size: int = 1000) -> Sample:
    return Sample("video", "h264", bytes(size), round(at * 90000), 90000, key, at, at)


def audio(at: float) -> Sample:
    return Sample("audio", "opus", bytes(80), round(at * 48000), 48000, False, at, at)


def test_the_buffer_holds_the_latest_gop_only() -> None:
    preroll = Preroll(4.0, 1 << 20)
    for i in range(120):  # 4 s at 30 fps, key frames every 2 s, audio every 20 ms
        preroll.add(video(i / 30, key=i % 60 == 0))
        preroll.add(audio(i / 30))
    held = preroll.samples()
    assert held[0].keyframe and held[0].arrival == 2.0
    assert sum(s.kind == "video" for s in held) == 60 and not any(
        s.keyframe for s in held[1:])
    assert preroll.nbytes == 60 * 1000 + 60 * 80 <= preroll.peak_bytes


def test_a_gop_longer_than_the_limit_is_not_kept() -> None:
    preroll = Preroll(4.0, 1 << 20)
    for i in range(160):  # one key frame, then 5.3 s without one
        preroll.add(video(i / 30, key=i == 0))
        preroll.add(audio(i / 30))
    held = preroll.samples()
    assert held and all(s.kind == "audio" for s in held)  # video useless without its key frame
    assert held[-1].arrival - held[0].arrival <= 4.0
    preroll.add(video(160 / 30, key=True))  # the next key frame starts a new GOP
    assert [s.kind for s in preroll.samples()] == ["video"]


def test_the_byte_cap_bounds_a_heavy_gop() -> None:
    preroll = Preroll(4.0, 50_000)
    preroll.add(video(0, key=True, size=30_000))
    for i in range(1, 30):
        preroll.add(video(i / 30, size=1000))
    assert preroll.nbytes <= 50_000 and not any(s.kind == "video" for s in preroll.samples())


def test_audio_only_streams_keep_a_short_span_and_zero_turns_it_off() -> None:
    preroll = Preroll(4.0, 1 << 20)
    for i in range(200):
        preroll.add(audio(i * 0.02))
    held = preroll.samples()
    assert held[-1].arrival - held[0].arrival <= AUDIO_ONLY_PREROLL < held[-1].arrival
    off = Preroll(0, 1 << 20)
    off.add(video(0, key=True))
    off.add(audio(0))
    assert off.samples() == [] and off.nbytes == 0
