"""Resume on one node: a publisher whose connection dropped and that publishes again within
LIVETAPE_RESUME_SECONDS continues the same recording in a new file, the gap reported; a
stopped recording never resumes, and neither does one whose WHIP session was deleted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness.flow import download, files_of, wait_for
from livetape_harness.server import ServerFactory

ROOM = "room-1"


async def _publisher(api: LivetapeClient, media: EncodedMedia) -> WhipPublisher:
    publisher = WhipPublisher(api.whip_url(ROOM, "camera"), await api.mint_token("alice"),
                              media, loop=True)
    await publisher.start()
    return publisher


async def _state_is(api: LivetapeClient, recording_id: str, state: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        found = await api.get_recording(recording_id)
        return found if found["state"] == state else None

    found: dict[str, Any] = await wait_for(reached, timeout=30)
    return found


async def _written(api: LivetapeClient, recording_id: str, frames: int) -> None:
    async def enough() -> bool:
        state = await api.get_recording(recording_id)
        return bool(state.get("written", {}).get("video", 0) >= frames)

    await wait_for(enough, timeout=30)


async def test_a_dropped_publisher_resumes_and_a_stopped_or_deleted_one_does_not(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(disconnect_grace_seconds=2, idle_timeout_seconds=20,
                          preroll_seconds=2)
    media = EncodedMedia.synthetic(4.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room(ROOM)
        first = await _publisher(api, media)
        recording_id = await api.start_recording(ROOM, "resumed", user_id="alice")
        await _written(api, recording_id, 60)
        await first.vanish()  # the connection drops: no DELETE
        dropped = await _state_is(api, recording_id, "ended")
        assert dropped["end_reason"] == "publisher_left"

        second = await _publisher(api, media)  # back within the window
        await _state_is(api, recording_id, "recording")
        await _written(api, recording_id, 45)
        [running] = (await api._call("GET", "/v1/recordings"))["recordings"]
        assert (running["recording_id"], running["segment"]) == (recording_id, 2)
        file_ids = await api.stop_recording(ROOM, user_id="alice")
        state = await api.get_recording(recording_id)
        assert (state["state"], state["end_reason"]) == ("ended", "stopped")
        assert state["file_ids"] == file_ids and len(file_ids) == 2
        [gap] = state["gaps"]
        assert gap["seconds"] > 0 and gap["from"] < gap["to"]
        files = {f["file_id"]: f for f in await files_of(api, "resumed")}
        for n, file_id in enumerate(file_ids):
            got = await download(files[file_id]["play_set"][0]["url"], tmp_path / f"{n}.mp4")
            with av.open(str(got)) as container:
                assert sum(1 for _ in container.decode(video=0)) > 30

        # stopped: dropping and coming back starts nothing
        await second.vanish()
        await asyncio.sleep(3)  # the old session ends (disconnect grace)
        third = await _publisher(api, media)
        await asyncio.sleep(2)
        assert (await api._call("GET", "/v1/recordings"))["recordings"] == []
        assert (await api.get_recording(recording_id))["end_reason"] == "stopped"

        # a deleted WHIP session left on purpose: coming back starts nothing either, and a
        # new recording can be started at once
        deleted_id = await api.start_recording(ROOM, "deleted", user_id="alice")
        await _written(api, deleted_id, 15)
        await third.stop()  # DELETE
        assert (await _state_is(api, deleted_id, "ended"))["end_reason"] == "publisher_left"
        fourth = await _publisher(api, media)
        await asyncio.sleep(2)
        assert (await api._call("GET", "/v1/recordings"))["recordings"] == []
        assert await api.start_recording(ROOM, "again", user_id="alice") != deleted_id
        await api.stop_recording(ROOM, user_id="alice")
        await fourth.stop()
