"""The benchmark's load generator: WHIP publishers of one pre-encoded clip, in worker processes.

Every publisher is livetape's own :class:`~livetape.client.publisher.WhipPublisher` with
``loop=True``, sending a shared :class:`~livetape.client.media.EncodedMedia` (720p30 H.264 at
~2 Mbit/s + 20 ms Opus) without encoding anything, to whichever WHIP URL it is given
(livetape, or :mod:`whip_shim` in front of Janus or the MediaRecorder receiver).

The clip is encoded once by :func:`build_media` and saved with :func:`save_media`; each worker
(``python bench/loadgen.py <media file>``, driven over :mod:`rpc`) loads it and runs its share
of the publishers, so the generator can use more than one core. Commands: ``publish`` (jobs
of id, url, token), ``sent`` (video packets sent per stream), ``silence`` (stop sending but
stay connected: no DELETE, no RTCP BYE), ``stop`` (DELETE and close all).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import os
import pickle
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

from livetape.client.media import EncodedMedia
from livetape.client.pacing import PacedPacketTrack, SharedClock
from livetape.client.publisher import WhipPublisher
from rpc import Child, serve_stdio

logger = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS, VIDEO_BITRATE = 1280, 720, 30, 2_000_000
VIDEO_TB, AUDIO_TB = Fraction(1, 90000), Fraction(1, 48000)
START_CONCURRENCY = 4  # publishers connecting at once, per worker
STREAMS_PER_WORKER = 16  # the auto worker count's divisor


def build_media(seconds: float, keyint: int = FPS) -> EncodedMedia:
    """720p30 H.264 at ~2 Mbit/s (key frame every ``keyint`` frames, no B-frames, SPS/PPS
    before each IDR) + Opus.

    ``EncodedMedia.synthetic`` draws a dark, smooth pattern that x264 codes in ~0.9 Mbit/s
    whatever the target; moving noise (as in janus_check.py) makes the bitrate reach 2 Mbit/s
    and so gives the receivers a realistic packet rate. The audio is synthetic's own.
    """
    base = EncodedMedia.synthetic(seconds, width=WIDTH, height=HEIGHT, fps=FPS,
                                  video_bitrate=VIDEO_BITRATE, video=False)
    ctx = av.CodecContext.create("libx264", "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, FPS), Fraction(FPS)
    ctx.bit_rate, ctx.gop_size, ctx.max_b_frames = VIDEO_BITRATE, keyint, 0
    kbps = VIDEO_BITRATE // 1000
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params":
                   f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0:repeat-headers=1"
                   f":vbv-maxrate={kbps}:vbv-bufsize={kbps}"}
    ctx.profile = "Constrained Baseline"
    rng = np.random.default_rng(1)
    rows = HEIGHT * 3 // 2
    noise = rng.integers(0, 256, size=(rows + 64, WIDTH + 64), dtype=np.uint8)
    ramp = np.tile(np.arange(WIDTH, dtype=np.uint16), (rows, 1))
    n_frames = round(seconds * FPS)
    video: list[av.Packet[Any]] = []
    for i in [*range(n_frames), None]:
        frame = None
        if i is not None:
            dy, dx = (i * 3) % 64, (i * 5) % 64
            plane = (ramp + i * 4) % 256 // 2 + noise[dy:dy + rows, dx:dx + WIDTH] // 2
            frame = av.VideoFrame.from_ndarray(plane.astype(np.uint8), format="yuv420p")
            frame.pts = i
        for packet in ctx.encode(frame):
            assert packet.pts is not None
            video.append(_packet(bytes(packet), packet.pts * (90000 // FPS), VIDEO_TB,
                                 bool(packet.is_keyframe), 90000 // FPS))
    return dataclasses.replace(base, video=video, video_codec="h264", width=WIDTH,
                               height=HEIGHT, fps=float(FPS), keyframe_interval=keyint,
                               duration=max(base.duration, n_frames / FPS))


def media_bitrate(media: EncodedMedia) -> float:
    """Average video bits per second of the clip."""
    return sum(p.size for p in media.video) * 8 / (len(media.video) / media.fps)


def _packet(data: bytes, pts: int, time_base: Fraction, key: bool,
            duration: int) -> av.Packet[Any]:
    packet = av.Packet(data)
    packet.pts = packet.dts = pts
    packet.time_base, packet.is_keyframe, packet.duration = time_base, key, duration
    return packet


def save_media(media: EncodedMedia, path: Path) -> None:
    """Write the clip for the workers (plain bytes and numbers, pickled)."""
    def flat(packets: list[av.Packet[Any]]) -> list[tuple[bytes, int, bool, int]]:
        return [(bytes(p), int(p.pts or 0), bool(p.is_keyframe), int(p.duration or 0))
                for p in packets]
    meta = {f.name: getattr(media, f.name) for f in dataclasses.fields(media)
            if f.name not in ("video", "audio")}
    path.write_bytes(pickle.dumps({"video": flat(media.video), "audio": flat(media.audio),
                                   "meta": meta}))


def load_media(path: Path) -> EncodedMedia:
    """Read a clip written by :func:`save_media`."""
    raw = pickle.loads(path.read_bytes())
    video = [_packet(d, t, VIDEO_TB, k, n) for d, t, k, n in raw["video"]]
    audio = [_packet(d, t, AUDIO_TB, k, n) for d, t, k, n in raw["audio"]]
    return EncodedMedia(video=video, audio=audio, **raw["meta"])


@dataclasses.dataclass(frozen=True, eq=False)
class _QuietableMedia(EncodedMedia):
    """EncodedMedia that remembers the tracks it made, so their publisher can go quiet."""

    made: list[PacedPacketTrack] = dataclasses.field(default_factory=list)

    def tracks(self, clock: SharedClock, *, loop: bool = False) -> list[PacedPacketTrack]:
        tracks = super().tracks(clock, loop=loop)
        self.made.extend(tracks)
        return tracks


class _Fleet:
    """A worker's publishers, by stream id."""

    def __init__(self, media: EncodedMedia) -> None:
        self.media = media
        self.publishers: dict[int, tuple[WhipPublisher, _QuietableMedia]] = {}
        # trust_env=False: no proxy from the environment may see the loopback traffic; no
        # keep-alive: on a loaded host the server closes an idle connection just as the next
        # offer goes out on it (httpx.ReadError), and a fresh loopback connection costs nothing
        self.client = httpx.AsyncClient(trust_env=False, timeout=30.0,
                                        limits=httpx.Limits(max_keepalive_connections=0))

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request["cmd"]
        if cmd == "hello":
            return {"video_packets": len(self.media.video)}
        if cmd == "publish":
            gate = asyncio.Semaphore(START_CONCURRENCY)

            async def one(job: dict[str, Any]) -> None:
                async with gate:
                    await self._publish(int(job["id"]), str(job["url"]), str(job["token"]))

            await asyncio.gather(*(one(job) for job in request["jobs"]))
            return {"ok": True}
        if cmd == "silence":
            for _, media in self.publishers.values():
                for track in media.made:
                    track.stop()
        elif cmd == "stop":
            await self.stop_all()
            return {"ok": True}
        elif cmd != "sent":
            raise ValueError(f"unknown command {cmd!r}")
        return {"sent": {i: p.packets_sent.get("video", 0)
                         for i, (p, _) in self.publishers.items()}}

    async def _publish(self, stream_id: int, url: str, token: str) -> None:
        fields = {f.name: getattr(self.media, f.name) for f in dataclasses.fields(EncodedMedia)}
        media = _QuietableMedia(**fields)
        publisher = WhipPublisher(url, token, media, loop=True, client=self.client)
        await publisher.start()
        self.publishers[stream_id] = (publisher, media)

    async def stop_all(self) -> None:
        publishers, self.publishers = self.publishers, {}
        await asyncio.gather(*(p.stop() for p, _ in publishers.values()),
                             return_exceptions=True)
        await self.client.aclose()


class LoadGen:
    """Controller side: K worker processes sharing N streams round-robin."""

    def __init__(self, media_path: Path, workers: int, log_dir: Path) -> None:
        self.children = [Child(Path(__file__), [str(media_path)], log_dir / f"loadgen-{k}.log")
                         for k in range(workers)]
        self._owner: dict[int, Child] = {}
        self._closed = False

    @staticmethod
    def auto_workers(n: int) -> int:
        """One worker per STREAMS_PER_WORKER streams, at most one per core."""
        return max(1, min(os.cpu_count() or 1, math.ceil(n / STREAMS_PER_WORKER)))

    async def start(self) -> None:
        """Start the workers and wait until each has loaded the clip."""
        for child in self.children:
            await child.start()
        await asyncio.gather(*(c.request("hello") for c in self.children))

    async def publish(self, targets: list[tuple[str, str]]) -> None:
        """Start one publisher per (whip_url, token); stream ids are the list indices."""
        jobs: dict[Child, list[dict[str, Any]]] = {c: [] for c in self.children}
        for i, (url, token) in enumerate(targets):
            child = self.children[i % len(self.children)]
            self._owner[i] = child
            jobs[child].append({"id": i, "url": url, "token": token})
        await asyncio.gather(*(c.request("publish", timeout=60 + 5 * len(j), jobs=j)
                               for c, j in jobs.items() if j))

    async def sent(self, stream_id: int | None = None) -> dict[int, int]:
        """Video packets sent so far, per stream (only ``stream_id``'s worker if given)."""
        children = self.children if stream_id is None else [self._owner[stream_id]]
        return _merge(await asyncio.gather(*(c.request("sent") for c in children)))

    async def silence(self) -> dict[int, int]:
        """Stop sending (stay connected); returns the final video packets sent per stream."""
        return _merge(await asyncio.gather(*(c.request("silence") for c in self.children)))

    def cpu_seconds(self) -> float:
        """CPU seconds used by all workers so far."""
        return sum(c.cpu_seconds() for c in self.children)

    async def close(self) -> None:
        """DELETE every session, then end the workers (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for child in self.children:
            try:
                await child.request("stop", timeout=60)
            except Exception as exc:  # the worker may be gone already; close() still runs
                logger.warning("loadgen stop: %s", exc)
            await child.close()


def _merge(replies: list[dict[str, Any]]) -> dict[int, int]:
    return {int(i): int(n) for reply in replies for i, n in reply["sent"].items()}


async def _worker(media_path: Path) -> None:
    fleet = _Fleet(load_media(media_path))
    try:
        await serve_stdio(fleet.handle)
    finally:
        await fleet.stop_all()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_worker(Path(sys.argv[1])))
