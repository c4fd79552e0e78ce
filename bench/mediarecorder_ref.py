"""aiortc's ``MediaRecorder`` as the "obvious Python" reference: decode + re-encode to MP4.

A receiver process (``python bench/mediarecorder_ref.py <out dir>``, driven over :mod:`rpc`)
answers WHIP offers on a loopback :class:`whip_shim.WhipEndpoint` with a plain aiortc
``RTCPeerConnection`` and records each publisher's tracks with one
``aiortc.contrib.media.MediaRecorder`` per publisher, to ``mr-<k>.mp4`` (libx264 + AAC, as
MediaRecorder picks for MP4). It runs apart from the benchmark so that its CPU and RSS can be
read from /proc alone.

Counts per publisher: frames aiortc delivered (decoded) to the track, which is the frames
MediaRecorder pulled plus those still queued when asked; written frames are counted later by
demuxing the files. Commands: ``hello`` (-> WHIP URL), ``stats``, ``finish`` (stop every
recorder, close every connection; -> file paths).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder
from aiortc.mediastreams import MediaStreamTrack

from rpc import Child, serve_stdio
from whip_shim import Leave, WhipEndpoint

logger = logging.getLogger(__name__)


class _CountingTrack(MediaStreamTrack):
    """Passes a received track's frames through, counting them."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind, self.source, self.pulled = source.kind, source, 0

    async def recv(self) -> Any:
        frame = await self.source.recv()
        self.pulled += 1
        return frame

    @property
    def delivered(self) -> int:
        """Frames aiortc has handed over: pulled plus still queued (RemoteStreamTrack)."""
        queue = getattr(self.source, "_queue", None)
        return self.pulled + (queue.qsize() if queue is not None else 0)


class _Session:
    """One publisher: its connection, recorder and counted tracks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.recorder = MediaRecorder(str(path))
        self.tracks: list[_CountingTrack] = []
        self._closed = False

    async def close(self) -> None:
        """Stop the recorder (flushes the encoders, writes the trailer), close the pc."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.recorder.stop()
        except Exception:  # a recorder that broke mid-way: report what reached the disk
            logger.exception("MediaRecorder.stop failed for %s", self.path.name)
        await self.pc.close()


class _Receiver:
    """The receiver process's state: a WHIP endpoint and its sessions."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.sessions: list[_Session] = []
        self.endpoint = WhipEndpoint(self._publish)
        self._ids = itertools.count()

    async def _publish(self, offer_sdp: str) -> tuple[str, Leave]:
        session = _Session(self.out_dir / f"mr-{next(self._ids):03d}.mp4")
        self.sessions.append(session)

        @session.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            counted = _CountingTrack(track)
            session.tracks.append(counted)
            session.recorder.addTrack(counted)

        await session.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await session.pc.setLocalDescription(await session.pc.createAnswer())
        await session.recorder.start()
        return session.pc.localDescription.sdp, session.close

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request["cmd"]
        if cmd == "hello":
            return {"url": self.endpoint.url}
        if cmd == "stats":
            return {"received": [{t.kind: t.delivered for t in s.tracks} for s in self.sessions]}
        if cmd == "finish":
            await self.endpoint.leave_all()
            for session in self.sessions:
                await session.close()
            return {"files": [str(s.path) for s in self.sessions]}
        raise ValueError(f"unknown command {cmd!r}")


class MediaRecorderRef:
    """Controller side: start the receiver, read its counters, finish and collect files."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self.log_path = out_dir / "receiver.log"
        self.child = Child(Path(__file__), [str(out_dir)], self.log_path)
        self.url = ""

    async def start(self) -> None:
        """Start the receiver and learn its WHIP URL."""
        await self.child.start()
        self.url = str((await self.child.request("hello"))["url"])

    async def received_video(self) -> int:
        """Video frames aiortc delivered to the recorders so far, all publishers."""
        reply = await self.child.request("stats")
        return sum(int(s.get("video", 0)) for s in reply["received"])

    async def finish(self) -> list[Path]:
        """Stop every recorder; returns the files written."""
        reply = await self.child.request("finish", timeout=300)
        return [Path(p) for p in reply["files"]]

    async def close(self) -> None:
        """End the receiver process."""
        await self.child.close()


async def _receiver_main(out_dir: Path) -> None:
    receiver = _Receiver(out_dir)
    await receiver.endpoint.start()
    try:
        await serve_stdio(receiver.handle)
    finally:
        with contextlib.suppress(Exception):
            await receiver.endpoint.stop()
        for session in receiver.sessions:
            with contextlib.suppress(Exception):
                await session.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_receiver_main(Path(sys.argv[1])))
