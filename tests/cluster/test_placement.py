"""Placement in a cluster of three real nodes (NATS, one PostgreSQL database, one storage
folder): every call goes to node a; publishers land wherever there is room, recordings of
streams on other nodes land files, a full cluster answers 503, a killed node's streams
answer 30000207 at once."""

from __future__ import annotations

import time
from pathlib import Path

import av
import httpx
import pytest

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness.flow import download, files_of, offer_without_candidates, wait_for
from livetape_harness.server import LiveServer
from tests.cluster.conftest import NodeFactory, node_ids

ROOM = "room-1"
NODE = {"max_publications": 1, "idle_timeout_seconds": 10, "preroll_seconds": 2}


def shared_storage(start_node: NodeFactory, tmp_path: Path, name: str) -> LiveServer:
    """A node whose storage folder is the cluster's one (as ``livetape cluster up`` does)."""
    (tmp_path / "storage").mkdir(exist_ok=True)
    (tmp_path / name).mkdir(parents=True, exist_ok=True)
    (tmp_path / name / "storage").symlink_to(tmp_path / "storage")
    return start_node(name, **NODE)


def node_of(publisher: WhipPublisher) -> str:
    assert publisher.location is not None
    return publisher.location.rsplit("/", 1)[-1].split(".", 1)[0]


async def test_placement_record_and_failures(start_node: NodeFactory, tmp_path: Path) -> None:
    a, b, c = (shared_storage(start_node, tmp_path, name) for name in "abc")
    assert node_ids(a) == ["a", "b", "c"]
    media = EncodedMedia.synthetic(4.0)
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        await api.create_room(ROOM)
        publishers: dict[str, WhipPublisher] = {}
        for user in ("alice", "bob", "carol"):
            token = await api.mint_token(user)
            publisher = WhipPublisher(api.whip_url(ROOM, "camera"), token, media, loop=True)
            await publisher.start()  # the answer's candidates are the chosen node's
            publishers[user] = publisher
        placed = {user: node_of(p) for user, p in publishers.items()}
        assert sorted(placed.values()) == ["a", "b", "c"]  # one each: the limit is 1

        # every node is full: 503, the catalogue's 1003
        token = await api.mint_token("dave")
        full = httpx.post(api.whip_url(ROOM, "camera"), content=await offer_without_candidates(),
                          headers={"Authorization": f"Bearer {token}",
                                   "Content-Type": "application/sdp"}, timeout=30)
        assert full.status_code == 503, full.text
        assert full.json()["code"] == 1003

        # the room through a lists the members on every node
        room = await api.get_room(ROOM)
        assert sorted(m["user_id"] for m in room["members"]) == ["alice", "bob", "carol"]

        # record a stream on another node, through a: the files land and decode
        remote = next(user for user, node in placed.items() if node != "a")
        await api.start_recording(ROOM, "remote-rec", user_id=remote)
        await wait_for(lambda: _progress(api), timeout=20)
        file_ids = await api.stop_recording(ROOM, user_id=remote)
        assert file_ids
        files = await files_of(api, "remote-rec")
        assert [f["file_id"] for f in files] == file_ids
        got = await download(files[0]["play_set"][0]["url"], tmp_path / "remote.mp4")
        with av.open(str(got)) as container:  # a real MP4 that decodes
            frames = sum(1 for _ in container.decode(video=0))
        assert frames > 10

        # DELETE through a ends the publication on its node
        await publishers[remote].stop()
        room = await api.get_room(ROOM)
        assert remote not in [m["user_id"] for m in room["members"]]

        # a node killed with -9: its streams answer 30000207 at once, not after a timeout
        victim_user = next(u for u, n in placed.items() if n != "a" and u != remote)
        victim = {"b": b, "c": c}[placed[victim_user]]
        victim.kill()
        began = time.monotonic()
        with pytest.raises(ApiError) as refused:
            await api.start_recording(ROOM, "dead-rec", user_id=victim_user)
        assert refused.value.code == 30000207, refused.value
        assert placed[victim_user] in refused.value.message + refused.value.hint
        location = publishers[victim_user].location
        assert location is not None
        gone = httpx.delete(f"{a.url}{location}" if location.startswith("/") else location,
                            headers={"Authorization": f"Bearer {a.secret_key}"}, timeout=30)
        assert gone.status_code >= 500, gone.text
        assert gone.json()["code"] == 30000207
        assert time.monotonic() - began < 3  # "no responders": no wait for the node timeout
        for user, publisher in publishers.items():
            if user != victim_user:
                await publisher.stop()


async def _progress(api: LivetapeClient) -> bool:
    """A running recording has its first segment open."""
    answer = await api._call("GET", "/v1/recordings")
    running = answer.get("recordings", [])
    return bool(running) and running[0].get("segment", 0) > 0
