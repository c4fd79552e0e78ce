"""Cluster-wide notices between real nodes: an app setting changed through node A is enforced
by node B at once, although B caches it for an hour (LIVETAPE_MEDIA_LOOKUP_SECONDS); a
rotated play key stops old URLs on B at once; a room closed through A ends its publisher on B."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import publishing, record_all_of
from livetape_harness.server import LiveServer
from tests.cluster.conftest import NodeFactory, node_ids, registry

CACHED = {"media_lookup_seconds": 3600, "node_heartbeat_seconds": 0.5}


def on(node: LiveServer, url: str) -> str:
    """The same play URL, asked from ``node``."""
    parts = urlsplit(url)
    return f"{node.url}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def seconds_until(check: object, timeout: float = 5) -> float:
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, "not seen in time"
        time.sleep(0.02)
    return time.monotonic() - started


async def test_a_change_through_one_node_is_enforced_by_another_at_once(
        start_node: NodeFactory) -> None:
    a = start_node("a", **CACHED)
    (b_dir := a.data_dir.parent / "b").mkdir()
    (b_dir / "storage").symlink_to(a.data_dir / "storage")  # one store (S3 in production)
    (a.data_dir / "storage").mkdir(exist_ok=True)
    b = start_node("b", **CACHED)
    seconds_until(lambda: node_ids(a) == ["a", "b"], 10)
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        _, (entry,) = await record_all_of(a, api, EncodedMedia.synthetic(2.0), "shared")
        signed = entry["play_set"][0]["url"]
        assert httpx.get(on(b, signed)).status_code == 200  # B caches: signing required
        unsigned = on(b, signed.split("?")[0])
        assert httpx.get(unsigned).status_code == 403

        await api.app_settings(sign_play_urls=False)  # through A
        took = seconds_until(lambda: httpx.get(unsigned).status_code == 200)
        print(f"B plays the unsigned URL {took * 1000:.0f} ms after A's change")

        await api.app_settings(sign_play_urls=True, rotate_play_key=True)  # through A
        took = seconds_until(lambda: httpx.get(on(b, signed)).status_code == 403)
        print(f"B refuses the old key's URL {took * 1000:.0f} ms after the rotation")

        await api.create_room("closing")
        async with publishing(b, EncodedMedia.synthetic(30.0), room="closing",
                              create_room=False):
            # placement picks the node (the least loaded); its entry lists the room
            holder = seconds_until_node(lambda: _holder(a), 10)
            await api.delete_room("closing")  # through A, wherever the publisher is
            took = seconds_until(lambda: _holder(a) is None, 5)
            print(f"{holder}'s entry without the room {took:.2f} s after A closed it")


def _holder(a: LiveServer) -> str | None:
    """The node whose registry entry lists the room "closing", if any."""
    for entry in registry(a).json()["nodes"]:
        if any(room.endswith("/closing") for room in entry["rooms"]):
            return str(entry["node_id"])
    return None


def seconds_until_node(check: Callable[[], str | None], timeout: float) -> str:
    started = time.monotonic()
    while (found := check()) is None:
        assert time.monotonic() - started < timeout, "not seen in time"
        time.sleep(0.05)
    return found
