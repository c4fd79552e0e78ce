"""Pre-encoded media, the A/V analysis helpers, and the WHIP publisher against a real receiver."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from livetape.client.media import EncodedMedia
from livetape.client.pacing import PacedPacketTrack, SharedClock
from livetape.client.publisher import WhipError, WhipPublisher
from livetape_harness.media_checks import (
    beep_onsets,
    beep_times,
    flash_onsets,
    flash_times,
    nal_types,
    probe,
    write_media_file,
)

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def media3() -> EncodedMedia:
    return EncodedMedia.synthetic(3.0, flash_every=1.0)


# --- media -----------------------------------------------------------------------------


def test_synthetic_h264_structure() -> None:
    m = EncodedMedia.synthetic(4.0, gop_seconds=0.5)
    assert (m.video_frame_count, m.audio_packet_count, m.keyframe_interval) == (120, 200, 15)
    assert (m.video_codec, m.width, m.height, m.fps, m.duration) == ("h264", 640, 360, 30.0, 4.0)
    assert m.flash_times == (0.5, 3.5)
    assert [i for i, p in enumerate(m.video) if p.is_keyframe] == list(range(0, 120, 15))
    for i, p in enumerate(m.video):
        nals = nal_types(bytes(p))
        assert (p.pts, p.dts, p.time_base) == (i * 3000, i * 3000, Fraction(1, 90000))
        if p.is_keyframe:  # SPS, PPS in-band before the IDR slices
            assert nals.index(7) < nals.index(8) < nals.index(5), nals
        else:
            assert 5 not in nals and 7 not in nals and 1 in nals, nals
    assert [p.pts for p in m.audio] == [k * 960 for k in range(200)]
    assert all(p.time_base == Fraction(1, 48000) for p in m.audio)
    decoder = av.CodecContext.create("h264", "r")
    frames = [f for p in m.video for f in decoder.decode(av.Packet(bytes(p)))]
    frames += decoder.decode(None)
    assert len(frames) == 120 and (frames[0].width, frames[0].height) == (640, 360)


def test_synthetic_vp8_and_options() -> None:
    m = EncodedMedia.synthetic(2.0, video_codec="vp8", width=320, height=240, fps=25,
                               flash_every=None)
    assert (m.video_frame_count, m.audio_packet_count, m.keyframe_interval) == (50, 100, 25)
    assert [i for i, p in enumerate(m.video) if p.is_keyframe] == [0, 25]
    assert all(bytes(p)[0] & 1 == (0 if p.is_keyframe else 1) for p in m.video)  # VP8 P bit
    assert m.flash_times == ()
    decoder = av.CodecContext.create("vp8", "r")
    assert sum(len(decoder.decode(av.Packet(bytes(p)))) for p in m.video) == 50
    audio_only = EncodedMedia.synthetic(1.0, video=False)
    assert (audio_only.video, audio_only.video_codec, audio_only.audio_packet_count) == (
        [], None, 50)


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("vp8", ".webm")])
def test_marks_found_in_written_file(tmp_path: Path, codec: str, suffix: str) -> None:
    m = EncodedMedia.synthetic(8.0, video_codec=codec, flash_every=2.5)
    path = write_media_file(tmp_path / f"marks{suffix}", m)
    assert m.flash_times == (0.5, 3.0, 5.5)
    assert flash_times(path) == pytest.approx(m.flash_times, abs=0.005)
    assert beep_times(path) == pytest.approx(m.flash_times, abs=0.005)
    info = probe(path)
    assert info["video"]["codec"] == codec and info["video"]["frames"] == 240
    assert info["video"]["first_keyframe"] and info["audio"]["codec"] == "opus"
    assert info["audio"]["packets"] == 400 and info["duration"] == pytest.approx(8.0, abs=0.02)


def test_from_file_round_trip(tmp_path: Path, media3: EncodedMedia) -> None:
    back = EncodedMedia.from_file(write_media_file(tmp_path / "m.mp4", media3))
    assert (back.video_frame_count, back.audio_packet_count) == (90, 150)
    assert (back.width, back.height, back.fps, back.keyframe_interval) == (640, 360, 30.0, 30)
    assert back.duration == pytest.approx(3.0)
    for a, b in zip(media3.video, back.video, strict=True):
        assert (a.pts, a.is_keyframe) == (b.pts, b.is_keyframe)
        assert nal_types(bytes(a)) == nal_types(bytes(b))
    assert [bytes(p) for p in media3.audio] == [bytes(p) for p in back.audio]
    assert [p.pts for p in media3.audio] == [p.pts for p in back.audio]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI")
def test_from_file_foreign_file(tmp_path: Path) -> None:
    # A global-header (avcC only) H.264 file with AAC audio, as ffmpeg writes by default.
    src = tmp_path / "aac.mp4"
    lavfi = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
             "-f", "lavfi", "-i", "sine=f=440:sample_rate=44100"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *lavfi, "-t", "2", "-c:v", "libx264",
                    "-bf", "0", "-g", "25", "-c:a", "aac", str(src)], check=True)
    m = EncodedMedia.from_file(src)
    assert (m.video_codec, m.width, m.height, m.keyframe_interval) == ("h264", 320, 240, 25)
    assert m.video_frame_count == 50 and 99 <= m.audio_packet_count <= 102
    for p in m.video:  # the bitstream filter put SPS/PPS in front of every IDR
        assert (7 in nal_types(bytes(p)) and 8 in nal_types(bytes(p))) == p.is_keyframe
    with_b = tmp_path / "bframes.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *lavfi[:4], "-t", "1", "-c:v", "libx264",
                    str(with_b)], check=True)
    with pytest.raises(ValueError, match="B-frames"):
        EncodedMedia.from_file(with_b)


@pytest.mark.asyncio
async def test_paced_tracks_share_clock_and_loop() -> None:
    m = EncodedMedia.synthetic(0.5, flash_every=None)
    clock = SharedClock()
    audio, video = m.tracks(clock, loop=True)
    assert (audio.kind, video.kind) == ("audio", "video")

    async def take(track: PacedPacketTrack, n: int) -> list[tuple[float, av.Packet]]:
        out = []
        for _ in range(n):
            p = await track.recv()
            out.append((time.monotonic(), p))
        return out

    got_a, got_v = await asyncio.gather(take(audio, 60), take(video, 36))  # 1.2 s
    assert [p.pts for _, p in got_v] == [i * 3000 for i in range(36)]  # rebased on loop
    assert [p.pts for _, p in got_a] == [i * 960 for i in range(60)]
    t0 = got_v[0][0]
    for arrived, p in got_a + got_v:  # both follow the one clock (loose: CI has 2 busy cores)
        assert arrived - t0 == pytest.approx(float(p.pts * p.time_base), abs=0.06)
    assert audio.packets_sent == 60 and clock.started_at is not None

    once = m.tracks(SharedClock())[1]
    assert len(await take(once, 15)) == 15
    with pytest.raises(MediaStreamError):
        await once.recv()
    assert once.done.is_set() and once.readyState == "ended"


# --- WHIP round trip -------------------------------------------------------------------


@dataclass
class Session:
    pc: RTCPeerConnection
    frames: dict[str, list[tuple[float, int, np.ndarray | float]]] = field(
        default_factory=lambda: {"audio": [], "video": []})
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, av.VideoFrame):
                value: np.ndarray | float = float(frame.to_ndarray(format="gray").mean())
            else:
                assert isinstance(frame, av.AudioFrame)
                value = frame.to_ndarray().reshape(-1, 2).mean(axis=1) / 32768  # s16 stereo
            assert frame.pts is not None
            self.frames[track.kind].append((time.monotonic(), frame.pts, value))


class FakeWhip:
    """A WHIP endpoint backed by aiortc's normal receive-and-decode path."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.deletes: list[str] = []
        self.app = Starlette(routes=[
            Route("/whip/{room}", self.post, methods=["POST"]),
            Route("/whip/{room}/sessions/{sid}", self.delete, methods=["DELETE"]),
        ])

    async def post(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"code": 1001, "message": "authentication failed",
                                 "hint": "send a valid token"}, status_code=401)
        assert request.headers["content-type"] == "application/sdp"
        sid = uuid.uuid4().hex
        session = self.sessions[sid] = Session(RTCPeerConnection(RTCConfiguration(iceServers=[])))

        @session.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            session.tasks.append(asyncio.create_task(session.consume(track)))

        offer = (await request.body()).decode()
        await session.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await session.pc.setLocalDescription(await session.pc.createAnswer())
        return Response(session.pc.localDescription.sdp, status_code=201,
                        media_type="application/sdp",
                        headers={"Location": f"/whip/{request.path_params['room']}/sessions/{sid}"})

    async def delete(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        self.deletes.append(sid)
        await self.sessions[sid].pc.close()
        return Response(status_code=200)

    async def close(self) -> None:
        for session in self.sessions.values():
            await session.pc.close()
            await asyncio.gather(*session.tasks, return_exceptions=True)


@pytest.fixture
async def whip() -> AsyncIterator[tuple[FakeWhip, str]]:
    fake = FakeWhip()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # HTTP may be loopback; ICE uses the real interface
    server = uvicorn.Server(uvicorn.Config(fake.app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}/whip/room1"
    server.should_exit = True
    await task
    await fake.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("codec", ["h264", "vp8"])
async def test_whip_round_trip(whip: tuple[FakeWhip, str], codec: str,
                               media3: EncodedMedia) -> None:
    fake, url = whip
    media = media3 if codec == "h264" else EncodedMedia.synthetic(3.0, video_codec=codec,
                                                                  flash_every=1.0)
    publisher = WhipPublisher(url, TOKEN, media)
    await publisher.start()
    assert publisher.location is not None and publisher.location.startswith(url + "/sessions/")
    assert publisher.answer_sdp is not None
    answer = SessionDescription.parse(publisher.answer_sdp)
    video_m = next(m for m in answer.media if m.kind == "video")
    assert video_m.rtp.codecs[0].mimeType.lower() == f"video/{codec}"
    if codec == "h264":
        assert video_m.rtp.codecs[0].parameters["packetization-mode"] == "1"

    await asyncio.wait_for(publisher.wait_done(), timeout=10)
    assert publisher.started_at is not None and time.time() - publisher.started_at >= 2.9
    assert publisher.packets_sent == {"audio": 150, "video": 90}
    await asyncio.sleep(0.3)  # let the receiver drain its jitter buffers
    session = next(iter(fake.sessions.values()))
    video, audio = session.frames["video"], session.frames["audio"]
    assert 85 <= len(video) <= 90 and 140 <= len(audio) <= 150

    # The marks arrive where the sender put them, in each track's RTP timeline...
    vt = [(pts - video[0][1]) / 90000 for _, pts, _ in video]
    flashes = flash_onsets(vt, [float(v) for *_, v in video])  # type: ignore[arg-type]
    assert flashes == pytest.approx([0.5, 1.5, 2.5], abs=0.005)
    samples = np.concatenate([v for *_, v in audio])  # type: ignore[arg-type]
    assert beep_onsets(samples, 48000) == pytest.approx([0.5, 1.5, 2.5], abs=0.005)
    # ...and at about the same wall time, since both tracks are paced from one clock.
    flash_arrival = next(t for t, _, v in video if float(v) > 128)  # type: ignore[arg-type]
    beep_arrival = next(t for t, _, v in audio if np.abs(v).max() > 0.1)
    assert abs(flash_arrival - beep_arrival) < 0.1

    await publisher.stop()
    await publisher.stop()  # idempotent
    assert fake.deletes == [publisher.location.rsplit("/", 1)[1]]
    assert publisher.delete_status == 200


@pytest.mark.asyncio
async def test_vanish_sends_no_delete(whip: tuple[FakeWhip, str], media3: EncodedMedia) -> None:
    fake, url = whip
    publisher = WhipPublisher(url, TOKEN, media3, loop=True)
    await publisher.start()
    await asyncio.sleep(1.0)
    session = next(iter(fake.sessions.values()))
    await publisher.vanish()
    sent = dict(publisher.packets_sent)
    await asyncio.sleep(0.3)
    received = {k: len(v) for k, v in session.frames.items()}
    assert received["video"] > 10
    await asyncio.sleep(0.7)
    assert {k: len(v) for k, v in session.frames.items()} == received  # media stopped at once
    assert publisher.packets_sent == sent
    assert session.pc.connectionState == "connected"  # no BYE/close_notify told it either
    assert fake.deletes == []
    await publisher.stop()  # after vanish: a no-op
    assert fake.deletes == []


@pytest.mark.asyncio
async def test_whip_error_is_parsed(whip: tuple[FakeWhip, str], media3: EncodedMedia) -> None:
    _, url = whip
    publisher = WhipPublisher(url, "wrong", media3)
    with pytest.raises(WhipError) as caught:
        await publisher.start()
    err = caught.value
    assert (err.status, err.code, err.message, err.hint) == (
        401, 1001, "authentication failed", "send a valid token")
