"""PostgreSQL away from a cluster for a while, for real (the cluster's database refuses
connections and the nodes' sessions are ended): calls that need the record answer 503 with
1013, /readyz says the database, live media and the recording in progress go on; once the
database takes connections again no node is restarted, the recording is stopped through
the other node and its file holds the whole time, outage included."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from sqlalchemy.engine import make_url

from livetape.client.api import ApiError, LivetapeClient
from livetape_harness.flow import download, files_of, wait_for
from livetape_harness.seaweed import SeaweedS3
from tests.cluster.conftest import NodeFactory, on_seaweed, publish_on
from tests.monitoring.test_health import admin

ROOM = "room-1"
OUTAGE_SECONDS = 12
FAST = {"node_heartbeat_seconds": 1, "node_dead_seconds": 4, "node_timeout_seconds": 3,
        "idle_timeout_seconds": 60, "ready_timeout_seconds": 2}


@pytest.mark.timeout(300)
async def test_a_database_outage_keeps_the_recording(
    start_node: NodeFactory, cluster_db: str, seaweed: SeaweedS3, s3_prefix: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = on_seaweed(seaweed, s3_prefix, monkeypatch, **FAST)
    b = start_node("b", **shared)  # alone: the publisher lands on it
    publisher = await publish_on(b, ROOM)
    database = make_url(cluster_db).database
    a = await asyncio.to_thread(start_node, "a", **shared)
    try:
        async with LivetapeClient(a.url, secret_key=a.secret_key) as api, \
                httpx.AsyncClient(base_url=a.url, timeout=30) as http:
            recording_id = await api.start_recording(ROOM, "outage", user_id="alice")
            started = time.monotonic()
            await asyncio.sleep(3)
            admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  f"WHERE datname = '{database}'")
            cut = time.monotonic()
            try:
                async def refused() -> dict[str, Any] | None:
                    try:
                        await api._call("GET", "/v1/recordings")
                    except ApiError as error:
                        return error.body if error.status == 503 else None
                    return None

                body = await wait_for(refused, timeout=OUTAGE_SECONDS, interval=0.5)
                assert body["code"] == 1013 and "LIVETAPE_DATABASE_URL" in body["hint"], body
                ready = await http.get("/readyz")
                assert ready.status_code == 503, ready.text
                assert not ready.json()["checks"]["database"]["ok"]
                assert (await http.get("/healthz")).status_code == 200
                await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut)))
            finally:
                admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

            async def listed() -> list[dict[str, Any]] | None:
                try:
                    found: list[dict[str, Any]] = (
                        await api._call("GET", "/v1/recordings"))["recordings"]
                except ApiError:
                    return None
                return found

            running = await wait_for(listed, timeout=30, interval=0.5)  # no restart
            assert [r["recording_id"] for r in running] == [recording_id]
            await asyncio.sleep(2)
            file_ids = await api.stop_recording(ROOM, user_id="alice")
            recorded = time.monotonic() - started
            state = await api.get_recording(recording_id)
            assert (state["state"], state["end_reason"]) == ("ended", "stopped"), state
            assert state["file_ids"] == file_ids and len(file_ids) == 1
            assert (await api._call("GET", "/v1/recordings"))["recordings"] == []
            [entry] = await files_of(api, "outage")
            got = await download(entry["play_set"][0]["url"], tmp_path / "outage.mp4")
    finally:
        await publisher.stop()
    with av.open(str(got)) as container:
        frames = [f for f in container.decode(video=0)]
    duration = float((frames[-1].pts - frames[0].pts) * frames[0].time_base)
    print(f"DB-OUTAGE recorded {recorded:.1f} s (database away {OUTAGE_SECONDS} s), "
          f"file {duration:.1f} s, {len(frames)} frames")
    assert duration >= recorded - 2.5  # the whole time, the outage included
