"""Recording through a lossy network: NACK/RTX and PLI carry the file through 2 % and 5 %
random loss with 30 ms jitter (the publisher impairs its own RTP: see
livetape.client.impairment), and the hooks the impairment and the recovery rest on still fit
the pinned aiortc."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpreceiver import TimestampMapper
from aiortc.rtp import RtpPacket

from livetape.client import impairment
from livetape.client.api import LivetapeClient
from livetape.client.impairment import Impairment
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape.live import loss_recovery
from livetape_harness.flow import download, files_of
from livetape_harness.media_checks import compare_pictures, decode_video, sync_offsets
from livetape_harness.server import ServerFactory
from tests.monitoring.test_metrics import scrape, value
from tests.recording.test_recording import HELD_BACK, SYNC_TOLERANCE

FPS = 30
SECONDS = 15.0


# --- the source guards ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(impairment.PATCHED_SOURCES))
def test_impairment_hook_fits_aiortc(name: str) -> None:
    assert name not in impairment.changed_sources(), (
        f"{name} changed: check that aiortc still sends every RTP packet (RTX too) through "
        "RTCDtlsTransport._send_rtp, then update livetape.client.impairment.PATCHED_SOURCES")


@pytest.mark.parametrize("name", sorted(loss_recovery.PATCHED_SOURCES))
def test_recovery_hooks_fit_aiortc(name: str) -> None:
    assert name not in loss_recovery.changed_sources(), (
        f"{name} changed: check livetape.live.loss_recovery still fits the new aiortc "
        "(its NACK generator and jitter buffer stand-ins), then update PATCHED_SOURCES")


# --- the stand-ins, packet by packet (real aiortc RTP packets and jitter buffers) ---------


def rtp(seq: int, timestamp: int, data: bytes = b"x") -> RtpPacket:
    packet = RtpPacket(sequence_number=seq % 65536, timestamp=timestamp)
    packet._data = data  # type: ignore[attr-defined]  # what aiortc's depayloader sets
    return packet


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_missing_packet_is_asked_for_again_until_it_comes() -> None:
    clock = Clock()
    nacks = loss_recovery.NackScheduler(loss_recovery.LossPolicy(nack_interval=0.1, wait=1.0),
                                        clock)
    asked: list[list[int]] = []
    for seq in (65534, 65535, 1, 2):  # 0 is lost (across the wrap)
        clock.now += 0.02
        if nacks.add(rtp(seq, seq)):
            asked.append(sorted(nacks.missing))
    assert asked == [[0]]  # at once, not again within the interval
    for seq in range(3, 20):
        clock.now += 0.02
        if nacks.add(rtp(seq, seq)):
            asked.append(sorted(nacks.missing))
    assert asked == [[0], [0], [0], [0]]  # every 0.1 s
    nacks.add(rtp(0, 0))  # the retransmission
    assert (nacks.recovered, nacks.requested, nacks.expired()) == (1, 4, [])
    nacks.add(rtp(21, 21))  # 20 lost, and never comes
    clock.now += 1.0
    assert not nacks.add(rtp(22, 22))  # given up: no more NACKs
    assert nacks.expired() == [20]


def test_video_buffer_gives_up_a_hole_and_says_so() -> None:
    clock, timestamps = Clock(), TimestampMapper()
    recovery = loss_recovery.LossRecovery(loss_recovery.LossPolicy(0.1, 1.0), timestamps)
    recovery.nacks._clock = clock
    frames: list[int] = []
    plis = 0
    for seq in range(40):  # frames of 3 packets; packet 10 (frame 3's second) is lost
        if seq == 10:
            continue
        clock.now = seq * 0.011 + (1.5 if seq >= 25 else 0.0)  # then a pause: 10 expires
        recovery.nacks.add(rtp(seq, seq // 3))
        pli, frame = recovery.buffer.add(rtp(seq, seq // 3))
        plis += pli
        if frame is not None:  # as aiortc's receiver hands it over, then those behind it
            frames.append(timestamps.map(frame.timestamp))
            assert recovery.follows_gap() == (frames[-1] == 4)
            frames += [f.timestamp for f in recovery.take_ready()]
    assert frames == list(range(3)) + list(range(4, 13))  # frame 3 left out, none trailing
    assert plis == 1 and recovery.counts["gaps"] == 1


def test_frames_behind_a_filled_hole_come_at_once() -> None:
    timestamps = TimestampMapper()
    recovery = loss_recovery.LossRecovery(loss_recovery.LossPolicy(0.1, 1.0), timestamps)
    handed: list[list[int]] = []
    for seq in [*range(5), *range(6, 12), 5, 12]:  # one packet a frame; 5 comes late
        frame = recovery.buffer.add(rtp(seq, seq * 3000))[1]
        frames = [] if frame is None else [timestamps.map(frame.timestamp), *(
            f.timestamp for f in recovery.take_ready())]
        handed.append([ts // 3000 for ts in frames])
    assert handed[11] == [4, 5, 6, 7, 8, 9, 10]
    assert [len(h) for h in handed] == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 7, 1]


def test_audio_buffer_loses_only_the_lost_packets() -> None:
    for lost in ({30}, {30, 31}, {30, 33, 34, 60}):
        ours, theirs = loss_recovery.AudioJitterBuffer(), JitterBuffer(16, prefetch=4)
        out: dict[str, list[int]] = {"ours": [], "aiortc": []}
        for seq in range(65500, 65500 + 100):  # across the wrap
            if seq - 65500 in lost:
                continue
            for name, buffer in (("ours", ours), ("aiortc", theirs)):
                frame = buffer.add(rtp(seq, seq * 960))[1]
                if frame is not None:
                    out[name].append(frame.timestamp // 960 - 65500)
        assert out["ours"][-1] >= 94  # held back: the last 4 (aiortc's prefetch), no more
        assert out["ours"] == [i for i in range(out["ours"][-1] + 1) if i not in lost]
        assert len(out["aiortc"]) < len(out["ours"]) - 3  # what it did: 4 more lost each


# --- recordings through loss ---------------------------------------------------------------


async def record_through(start_server: ServerFactory, tmp_path: Path, spec: Impairment,
                         seconds: float = SECONDS) -> dict[str, Any]:
    server = start_server()
    media = EncodedMedia.synthetic(seconds, width=640, height=360, fps=FPS)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("room-1")
        publisher = WhipPublisher(api.whip_url("room-1"), await api.mint_token("alice"), media,
                                  impairment=spec)
        await publisher.start()
        try:
            await api.start_recording("room-1", "lossy", user_id="alice")
            await publisher.wait_done()
            await asyncio.sleep(0.5)  # the last retransmissions land
            await api.stop_recording("room-1", user_id="alice")
        finally:
            await publisher.stop()
        metrics = await scrape(server)
        files = await files_of(api, "lossy")
        assert len(files) == 1
        path = await download(files[0]["play_set"][0]["url"], tmp_path / "lossy.mp4")
    link = publisher.link
    assert link is not None
    # the network really was that bad (so a clean link cannot pass these tests)
    first_sends = link.rtp_packets - link.rtx_packets
    assert abs((link.dropped - link.rtx_dropped) / first_sends - spec.loss) < spec.loss / 2, (
        link.dropped, link.rtx_dropped, first_sends)
    assert link.held > 0
    pictures, errors = decode_video(path)
    assert not errors, errors[:10]
    first, wrong = compare_pictures(pictures, media)
    assert not wrong, wrong[:10]  # every picture is the one published at its instant
    counts = {n: value(metrics, f"livetape_{n}_total") for n in (
        "nack_requests", "packets_recovered", "video_gaps", "pli_sent", "frames_dropped")}
    sent = publisher.packets_sent["video"] - first - HELD_BACK  # in the file's window
    print(f"loss {spec.loss:.0%}{' (no RTX)' if spec.rtx_loss == 1 else ''}: "
          f"{len(pictures)}/{sent} frames kept; dropped {link.dropped} of {link.rtp_packets} "
          f"packets, {link.rtx_packets} retransmitted, {link.held} held; {counts}")
    return {"media": media, "path": path, "link": link, "counts": counts,
            "kept": len(pictures) / sent, "start": first / media.fps}


@pytest.mark.parametrize(("loss", "kept"), [(0.02, 0.99), (0.05, 0.97)])
async def test_recording_through_loss_and_jitter(
    start_server: ServerFactory, tmp_path: Path, loss: float, kept: float
) -> None:
    run = await record_through(start_server, tmp_path,
                               Impairment(loss=loss, jitter_ms=30, seed=15))
    assert run["kept"] >= kept
    media: EncodedMedia = run["media"]
    start = run["start"]
    flashes, offsets = sync_offsets(run["path"])
    # every flash is in the file, in its place; A/V within 40 ms at every beep heard
    assert flashes == pytest.approx([f - start for f in media.flash_times if f >= start],
                                    abs=0.02)
    assert len(offsets) >= 2, (flashes, offsets)  # beeps right after lost audio: not measured
    assert max(abs(o) for o in offsets) <= SYNC_TOLERANCE, offsets
    # NACKs went out, the publisher retransmitted, the server got the packets back
    assert run["counts"]["nack_requests"] > 0 and run["link"].rtx_packets > 0
    assert run["counts"]["packets_recovered"] > 0


async def test_unrecovered_loss_costs_frames_not_pictures(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """Retransmissions lost too: each hole is given up after LIVETAPE_LOSS_WAIT_SECONDS, a PLI
    goes out, and the frames up to the next key frame are left out, none written damaged."""
    run = await record_through(start_server, tmp_path, Impairment(
        loss=0.02, jitter_ms=30, seed=4, rtx_loss=1.0), seconds=8.0)
    counts = run["counts"]
    assert counts["packets_recovered"] == 0 and counts["video_gaps"] > 0
    assert counts["pli_sent"] >= counts["video_gaps"] and counts["frames_dropped"] > 0
    assert 0.3 < run["kept"] < 0.99


async def test_cli_publisher_makes_the_loss(start_server: ServerFactory) -> None:
    server = start_server()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("room-1")
        token = await api.mint_token("alice")
    done = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "livetape", "publish", "--url", server.url, "--token", token,
        "--room", "room-1", "--seconds", "4", "--loss", "0.1", "--jitter-ms", "30",
    ], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    connected, link = (json.loads(line) for line in done.stdout.splitlines())
    assert connected["location"]
    assert 0.05 < link["dropped"] / link["rtp_packets"] < 0.15 and link["held"] > 0
    assert value(await scrape(server), "livetape_nack_requests_total") > 0
