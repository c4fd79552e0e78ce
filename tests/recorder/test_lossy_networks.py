"""Recording through a lossy network: NACK/RTX and PLI carry the file through 2 % and 5 %
random loss with 30 ms jitter (the publisher impairs its own RTP: see
livetape.client.impairment), and the hooks the impairment and the recovery rest on still fit
the pinned aiortc."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import pytest

from livetape.client import impairment
from livetape.client.api import LivetapeClient
from livetape.client.impairment import Impairment
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape.live import loss_recovery
from livetape_harness.flow import download, files_of
from livetape_harness.media_checks import beep_onsets, decode_audio, flash_times
from livetape_harness.server import ServerFactory
from tests.monitoring.test_metrics import scrape, value
from tests.recording.test_recording import HELD_BACK, SYNC_TOLERANCE, file_start_in_source

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


# --- recordings through loss ---------------------------------------------------------------


def picture_digests(frames: Iterable[av.VideoFrame]) -> list[tuple[float, str]]:
    return [(float(f.time or 0.0), hashlib.sha256(f.to_ndarray(format="yuv420p").tobytes())
             .hexdigest()) for f in frames]


def decode_video(path: Path) -> tuple[list[tuple[float, str]], list[str]]:
    """Each decoded picture (time, digest), and every error libav raised or logged."""
    errors: list[str] = []
    pictures: list[tuple[float, str]] = []
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as logs:
            try:
                with av.open(str(path)) as container:
                    pictures = picture_digests(container.decode(video=0))
            except av.error.FFmpegError as exc:
                errors.append(f"raised: {exc}")
        errors += [f"{name}: {message}" for level, name, message in logs
                   if level <= av.logging.ERROR]
    finally:
        av.logging.set_level(None)
    return pictures, errors


def damaged(pictures: list[tuple[float, str]], media: EncodedMedia, start: float) -> list[float]:
    """Times of the recorded pictures that differ from the published picture of that instant.

    H.264 decodes bit-exactly: a frame written without its references (a frame lost before
    it and not recovered) decodes to other pixels, even where the decoder reports nothing.
    """
    decoder = av.CodecContext.create(media.video_codec or "h264", "r")
    sent = [digest for packet in media.video
            for _, digest in picture_digests(decoder.decode(av.Packet(bytes(packet))))]
    return [t for t, digest in pictures
            if sent[round((start + t) * media.fps)] != digest]


def audio_gap_ends(path: Path) -> list[float]:
    """Times where audio resumes after lost packets (the file's packet timestamps jump)."""
    with av.open(str(path)) as container:
        spans = [(float(p.pts * p.time_base), float((p.pts + p.duration) * p.time_base))
                 for p in container.demux(audio=0) if p.size and p.pts is not None]
    return [b[0] for a, b in pairwise(spans) if b[0] - a[1] > 0.001]


def sync_offsets(path: Path) -> tuple[list[float], list[float]]:
    """Flash onsets, and beep minus flash for each flash whose beep onset was received.

    A beep whose first packet was lost (not repaired: WebRTC does not retransmit audio)
    starts late in the file by a packet: that is loss, not A/V sync, so it is not measured.
    """
    flashes = flash_times(path)
    samples, rate, start = decode_audio(path)
    beeps, resumed = beep_onsets(samples, rate, start), audio_gap_ends(path)
    offsets = []
    for flash in flashes:
        beep = min(beeps, key=lambda b: abs(b - flash), default=None)
        if beep is None or abs(beep - flash) > 0.5:
            continue
        if not any(beep - 0.025 <= g <= beep + 0.005 for g in resumed):
            offsets.append(beep - flash)
    return flashes, offsets


async def record_through(start_server: ServerFactory, tmp_path: Path,
                         spec: Impairment) -> dict[str, Any]:
    server = start_server()
    media = EncodedMedia.synthetic(SECONDS, width=640, height=360, fps=FPS)
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
    assert publisher.link is not None
    return {"media": media, "path": path, "link": publisher.link, "metrics": metrics,
            "sent": publisher.packets_sent}


@pytest.mark.parametrize(("loss", "kept"), [(0.02, 0.99), (0.05, 0.97)])
async def test_recording_through_loss_and_jitter(
    start_server: ServerFactory, tmp_path: Path, loss: float, kept: float
) -> None:
    run = await record_through(start_server, tmp_path,
                               Impairment(loss=loss, jitter_ms=30, seed=15))
    media: EncodedMedia = run["media"]
    link = run["link"]
    # the network really was that bad (so a clean link cannot pass this test)
    assert abs(link.dropped / link.rtp_packets - loss) < loss / 2, (link.dropped,
                                                                     link.rtp_packets)
    assert link.held > 0
    pictures, errors = decode_video(run["path"])
    assert not errors, errors[:10]
    flashes, offsets = sync_offsets(run["path"])
    start = file_start_in_source(media, flashes[0])
    # every flash is in the file, in its place; A/V within 40 ms at every beep heard
    assert flashes == pytest.approx([f - start for f in media.flash_times if f >= start],
                                    abs=0.02)
    assert len(offsets) >= len(flashes) - 1 and offsets, (flashes, offsets)
    assert max(abs(o) for o in offsets) <= SYNC_TOLERANCE, offsets
    assert not damaged(pictures, media, start)  # every picture is the one published
    frames = len(pictures)
    sent = run["sent"]["video"] - start * FPS - HELD_BACK  # frames sent in the file's window
    metrics = run["metrics"]
    print(f"loss {loss:.0%}: {frames}/{sent} frames kept, A/V {offsets}, dropped {link.dropped} of "
          f"{link.rtp_packets} packets, {link.rtx_packets} retransmitted, {link.held} held; "
          + ", ".join(f"{n} {value(metrics, f'livetape_{n}_total'):.0f}" for n in
                      ("nack_requests", "packets_recovered", "video_gaps", "pli_sent",
                       "frames_dropped")))
    assert frames >= kept * sent, (frames, sent)
    # NACKs went out, the publisher retransmitted, the server got the packets back
    assert value(metrics, "livetape_nack_requests_total") > 0
    assert link.rtx_packets > 0
    assert value(metrics, "livetape_packets_recovered_total") > 0
