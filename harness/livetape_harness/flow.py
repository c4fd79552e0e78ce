"""Steps the recording tests share: publish into a room, record, fetch the files."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness.server import LiveServer


@asynccontextmanager
async def publishing(
    server: LiveServer, media: EncodedMedia, *, room: str = "room-1", user: str = "alice",
    src_type: str = "camera", loop: bool = False, create_room: bool = True,
) -> AsyncIterator[WhipPublisher]:
    """A user publishing ``media`` into ``room`` over WHIP for the duration of the block."""
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        if create_room:
            await api.create_room(room)
        token = await api.mint_token(user)
        publisher = WhipPublisher(api.whip_url(room, src_type), token, media, loop=loop)
        await publisher.start()
        try:
            yield publisher
        finally:
            await publisher.stop()


@asynccontextmanager
async def publisher_process(
    server: LiveServer, token: str, room: str = "room-1"
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``livetape publish --loop`` in a process of its own, connected when the block starts;
    killed with -9 when it ends: it sends nothing more, not even a DELETE."""
    publisher = subprocess.Popen(
        [sys.executable, "-m", "livetape", "publish", "--url", server.url, "--token", token,
         "--room", room, "--loop"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert publisher.stdout is not None
        line = await asyncio.to_thread(publisher.stdout.readline)  # printed once connected
        assert b"location" in line, publisher.stderr.read() if publisher.stderr else b""
        yield publisher
    finally:
        publisher.send_signal(signal.SIGKILL)
        publisher.wait()


async def record_all_of(
    server: LiveServer, api: LivetapeClient, media: EncodedMedia, file_name: str,
    **options: Any,
) -> tuple[list[str], list[dict[str, Any]]]:
    """alice publishes ``media`` into room-1, all of it is recorded; returns file ids and the
    play-info entries found by ``file_name``. Call it again for more files."""
    try:
        await api.get_room("room-1")
        exists = True
    except ApiError:
        exists = False
    async with publishing(server, media, create_room=not exists) as publisher:
        await api.start_recording("room-1", file_name, user_id="alice", **options)
        await publisher.wait_done()
        file_ids = await api.stop_recording("room-1", user_id="alice")
    return file_ids, await files_of(api, file_name)


async def download(url: str, target: Path, *, verify: bool | str = True) -> Path:
    """GET a play URL to a file, as a player or a script would (following a redirect to
    the object store, as players do)."""
    async with httpx.AsyncClient(timeout=60, verify=verify, follow_redirects=True) as http:
        response = await http.get(url)
        response.raise_for_status()
        assert response.headers["content-type"] == "video/mp4"
        target.write_bytes(response.content)
    return target


async def files_of(api: LivetapeClient, file_name: str) -> list[dict[str, Any]]:
    info = await api.play_info(file_name, page_size=100)
    assert info["code"] == 0
    files: list[dict[str, Any]] = info["file_set"]
    assert info["total_count"] == len(files)
    return files


async def in_store(api: LivetapeClient, file_name: str, *,
                   timeout: float = 30) -> list[dict[str, Any]]:
    """The files named ``file_name`` once none of them waits in the server's spool any more
    (with a remote store, a finished file is uploaded a moment after it is listed)."""
    from livetape.library.files import UPLOAD_PENDING

    async def landed() -> list[dict[str, Any]]:
        files = await files_of(api, file_name)
        return files if files and all(f["status_reason"] != UPLOAD_PENDING
                                      for f in files) else []

    found: list[dict[str, Any]] = await wait_for(landed, timeout=timeout)
    return found


async def wait_for(predicate: Any, *, timeout: float, interval: float = 0.2) -> Any:
    """Poll an async predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def ffprobe(path: Path) -> dict[str, Any]:
    """Debian's ffprobe's view of a file (an independent check that it is a standard MP4)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, timeout=60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


async def offer_without_candidates(video: bool = True) -> str:
    """A real offer (audio, and video unless told) whose ICE candidates are left out: it can
    never connect, so it holds a publication slot while it lasts."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendonly")
    if video:
        pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = "\r\n".join(line for line in pc.localDescription.sdp.splitlines()
                      if not line.startswith("a=candidate")) + "\r\n"
    await pc.close()
    return sdp
