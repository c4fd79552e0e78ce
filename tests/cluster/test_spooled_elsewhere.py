"""A file that waits in the spool of the node that recorded it (the object store is away)
plays through any node: another node answers 307 to the holder's URL, same path and query,
and the holder serves it from its spool. Two real nodes, PostgreSQL, NATS, SeaweedFS of
its own (killed for the test)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import av
import httpx
import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.library.files import UPLOAD_PENDING
from livetape_harness.flow import download, files_of, publishing
from livetape_harness.seaweed import SeaweedS3
from tests.cluster.conftest import NodeFactory


@pytest.mark.timeout(300)
async def test_a_file_in_another_nodes_spool_plays_through_any_node(
    start_node: NodeFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = SeaweedS3(tmp_path / "seaweed").start()
    try:
        for name, value in store.env.items():
            monkeypatch.setenv(name, value)
        shared = {"storage_url": store.storage_url("spooled"), "node_heartbeat_seconds": 1}
        b = start_node("b", **shared)  # alone: the publisher lands on it
        a = start_node("a", **shared)
        async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
            async with publishing(b, EncodedMedia.synthetic(3.0)) as publisher:
                await api.start_recording("room-1", "held", user_id="alice")
                await publisher.wait_done()
                store.kill()  # the store goes away before the file lands: it stays on b
                [file_id] = await api.stop_recording("room-1", user_id="alice")
            [listed] = await files_of(api, "held")
            assert listed["file_id"] == file_id
            assert listed["status_reason"] == UPLOAD_PENDING
            url = listed["play_set"][0]["url"]
            assert urlsplit(url).netloc == urlsplit(a.url).netloc  # a's own URL

            async with httpx.AsyncClient(timeout=30) as http:
                answer = await http.get(url)
                assert answer.status_code == 307, answer.text
                moved = answer.headers["location"]
                assert moved == b.url.rstrip("/") + url[len(a.url.rstrip("/")):]
                head = await http.head(url, follow_redirects=True)
                assert head.status_code == 200
                assert int(head.headers["content-length"]) == listed["size"]
            got = await download(url, tmp_path / "held.mp4")  # a player follows it
            with av.open(str(got)) as container:
                frames = sum(1 for _ in container.decode(video=0))
            assert frames >= 80  # 3 s at 30 fps, all of it
    finally:
        store.stop()
