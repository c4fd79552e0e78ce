"""Key frame requests (PLI): a file starts, and is cut, when livetape asks, not when the
publisher happens to send a key frame.

The publisher here encodes live with aiortc's own H.264 encoder, which honours PLI and
otherwise sends a key frame only every 250 frames (x264's default, ~8 s at 30 fps): without
livetape's requests the files below could neither start nor be cut on time.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from pathlib import Path

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import VideoStreamTrack
from av import VideoFrame

from livetape.client.api import LivetapeClient
from livetape.client.publisher import codec_preferences
from livetape_harness.flow import download, files_of
from livetape_harness.media_checks import probe
from livetape_harness.server import ServerFactory

FPS = 30


class LiveCamera(VideoStreamTrack):
    """Raw 160x120 frames at 30 fps, encoded by aiortc (so PLI forces a key frame)."""

    def __init__(self) -> None:
        super().__init__()
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / FPS
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        image = np.full((120, 160, 3), (self._count * 3) % 200, np.uint8)
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = self._count, fractions.Fraction(1, FPS)
        self._count += 1
        return frame


async def whip_publish(url: str, token: str) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver(LiveCamera(), direction="sendonly")
    transceiver.setCodecPreferences(codec_preferences("video", "h264"))
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient() as http:
        reply = await http.post(url, content=pc.localDescription.sdp, headers={
            "Content-Type": "application/sdp", "Authorization": f"Bearer {token}"})
    assert reply.status_code == 201, reply.text
    await pc.setRemoteDescription(RTCSessionDescription(reply.text, "answer"))
    return pc


async def test_files_start_and_cut_on_requested_key_frames(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(segment_seconds=2)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("room-1")
        pc = await whip_publish(api.whip_url("room-1"), await api.mint_token("alice"))
        try:
            await asyncio.sleep(3)  # past the encoder's first key frame
            await api.start_recording("room-1", "live", user_id="alice")
            await asyncio.sleep(6.5)
            file_ids = await api.stop_recording("room-1", user_id="alice")
        finally:
            await pc.close()
        files = await files_of(api, "live")
        assert [f["file_id"] for f in files] == file_ids
        paths = [await download(f["play_set"][0]["url"], tmp_path / f"live{i}.mp4")
                 for i, f in enumerate(files)]
    infos = [probe(p) for p in paths]
    # the first file began on a requested key frame within a second of the start request
    assert sum(i["duration"] for i in infos) > 5.0
    assert len(infos) >= 3
    for info in infos:
        assert info["video"]["first_keyframe"] is True
    for info in infos[:-1]:  # each cut within the request lead plus one round trip of 2 s
        assert 1.7 <= info["duration"] <= 2.4, [i["duration"] for i in infos]
