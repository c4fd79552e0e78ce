"""Faults of a running cluster, injected for real, on three nodes (a takes no publishers, so
every stream is on b or c and every call through a crosses NATS):

- NATS stopped (kill -9 of the server) for 20 s while a recording runs: calls that need
  another node answer 30000401 naming NATS (none waits, none is sent late), media keeps
  flowing and the recording keeps writing (media never passes through NATS); NATS restarted
  on the same port: the nodes rejoin without restarting and the recording stops through the
  API with one file that covers the whole time, outage included.
- A node that hangs (SIGSTOP): a call routed to it answers 30000208 within
  LIVETAPE_NODE_TIMEOUT_SECONDS; SIGCONT and it serves again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness.cluster import OPERATOR_KEY, LocalCluster
from livetape_harness.flow import download, files_of, offer_without_candidates, wait_for
from livetape_harness.media_checks import probe
from livetape_harness.server import LiveServer

POSTGRES_URL = os.environ.get("LIVETAPE_TEST_POSTGRES_URL")
ROOM = "outages"
TIMEOUT = 2.0  # LIVETAPE_NODE_TIMEOUT_SECONDS here
OUTAGE_SECONDS = 20.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if not POSTGRES_URL:
        pytest.skip("cluster tests need PostgreSQL: set LIVETAPE_TEST_POSTGRES_URL")
    nodes: dict[str, dict[str, object]] = {"a": {"max_publications": 0}, "b": {}, "c": {}}
    started = LocalCluster(
        tmp_path_factory.mktemp("cluster"), POSTGRES_URL, nodes,
        common={"node_timeout_seconds": TIMEOUT, "node_read_attempts": 1,
                "node_heartbeat_seconds": 1, "idle_timeout_seconds": 60}).start()
    yield started
    for server in started.servers.values():  # never leave a node stopped
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
    started.stop()


def live_nodes(node: LiveServer) -> list[str] | None:
    try:
        answer = httpx.get(f"{node.url}/v1/operator/cluster/nodes", timeout=10,
                           headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    return [entry["node_id"] for entry in answer.json()["nodes"]]


async def publish(api: LivetapeClient, user: str) -> tuple[WhipPublisher, str]:
    with suppress(ApiError):  # (made by an earlier test of the module's cluster, or here)
        await api.create_room(ROOM)
    token = await api.mint_token(user)
    publisher = WhipPublisher(api.whip_url(ROOM), token, EncodedMedia.synthetic(4.0), loop=True)
    await publisher.start()
    assert publisher.location is not None
    node = publisher.location.rsplit("/", 1)[-1].split(".", 1)[0]
    assert node in ("b", "c"), publisher.location
    return publisher, node


async def written(api: LivetapeClient, recording_id: str) -> bool:
    return bool((await api.get_recording(recording_id)).get("written", {}).get("video"))


def part_bytes(node: LiveServer, recording_id: str) -> int:
    """What the recorder wrote so far on its node's disk."""
    folder = node.data_dir / "recordings" / recording_id
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


async def refused(call: object, code: int) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code == code, caught.value
    return caught.value


async def test_nats_away_for_20_s_then_back(cluster: LocalCluster, tmp_path: Path) -> None:
    a, nats = cluster["a"], cluster.nats
    assert nats is not None
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        publisher, node = await publish(api, "alice")
        holder = cluster[node]
        try:
            recording_id = await api.start_recording(ROOM, "through-outage", user_id="alice")
            await wait_for(lambda: written(api, recording_id), timeout=30)
            began = time.monotonic()

            nats.kill()
            stopped_at = time.monotonic()
            await wait_for(lambda: _health(a, connected=False), timeout=10)
            before = part_bytes(holder, recording_id)
            # every call that needs another node: 30000401, naming NATS, at once
            for call in (api.get_room(ROOM),
                         api.start_recording(ROOM, "refused", user_id="bob"),
                         api.stop_recording(ROOM, user_id="alice")):
                asked = time.monotonic()
                error = await refused(call, 30000401)
                assert nats.url in error.message, error
                assert time.monotonic() - asked < TIMEOUT, error  # not a timeout: no wait
            # the recording's record is the database's: it answers, without the live
            # counters of the node that runs it (unreachable)
            asked = time.monotonic()
            seen = await api.get_recording(recording_id)
            assert seen["state"] == "recording" and not seen.get("written"), seen
            assert time.monotonic() - asked < TIMEOUT
            offer, token = await offer_without_candidates(), await api.mint_token("bob")
            whip = httpx.post(api.whip_url(ROOM), content=offer, timeout=30, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/sdp"})
            assert whip.status_code in (502, 503), whip.text
            assert whip.json()["code"] in (30000401, 30000404), whip.text
            assert live_nodes(a) is None
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
            during = part_bytes(holder, recording_id)
            assert during > before, (before, during)  # the recorder kept writing

            nats.start()  # same port, same folder
            back = time.monotonic()
            await wait_for(lambda: _whole(a), timeout=30, interval=0.1)
            rejoined = time.monotonic() - back
            await wait_for(lambda: _room_answers(api), timeout=30, interval=0.1)
            answering = time.monotonic() - back
            for server in cluster.servers.values():  # none restarted
                assert server.process is not None and server.process.poll() is None
            await asyncio.sleep(2.0)
            file_ids = await api.stop_recording(ROOM, user_id="alice")
            elapsed = time.monotonic() - began
        finally:
            await publisher.stop()
        print(f"NATS back: registry whole after {rejoined:.2f} s, calls through a answer "
              f"after {answering:.2f} s")
        assert len(file_ids) == 1, file_ids
        files = await files_of(api, "through-outage")
        info = probe(await download(files[0]["play_set"][0]["url"], tmp_path / "outage.mp4"))
        print(f"recorded {elapsed:.1f} s with a {OUTAGE_SECONDS:.0f} s NATS outage: the file "
              f"holds {info['duration']:.2f} s, {info['video']['frames']} video frames")
        assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "opus", info
        assert info["duration"] >= elapsed - 1.0, (elapsed, info)
        assert info["video"]["frames"] >= (elapsed - 1.0) * 25, info  # 30 fps sent
        assert info["audio"]["samples"] >= (elapsed - 1.0) * 48000, info
        record = await api.get_recording(recording_id)
        assert (record["state"], record["end_reason"]) == ("ended", "stopped"), record


async def test_a_hung_node_answers_30000208_then_recovers(cluster: LocalCluster,
                                                          tmp_path: Path) -> None:
    a = cluster["a"]
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        await wait_for(lambda: _whole(a), timeout=30)
        publisher, node = await publish(api, "carol")
        hung = cluster[node]
        assert hung.process is not None
        try:
            os.kill(hung.process.pid, signal.SIGSTOP)
            try:
                asked = time.monotonic()
                error = await refused(api.start_recording(ROOM, "hung", user_id="carol"),
                                      30000208)
                waited = time.monotonic() - asked
            finally:
                os.kill(hung.process.pid, signal.SIGCONT)
            print(f"a call to the hung node {node} answered 30000208 after {waited:.2f} s "
                  f"(LIVETAPE_NODE_TIMEOUT_SECONDS={TIMEOUT:g})")
            assert node in error.message + error.hint, error
            assert waited < TIMEOUT + 2.0, waited
            # it serves again: a recording starts, runs and lands
            recording_id = await wait_for(lambda: _start(api), timeout=30, interval=0.5)
            await wait_for(lambda: written(api, recording_id), timeout=30)
            await asyncio.sleep(3.0)
            file_ids = await api.stop_recording(ROOM, user_id="carol")
        finally:
            await publisher.stop()
        assert len(file_ids) == 1
        files = await files_of(api, "after-hang")
        info = probe(await download(files[0]["play_set"][0]["url"], tmp_path / "hang.mp4"))
        assert info["duration"] >= 3.0 and info["video"]["frames"] > 60, info
        running = (await api._call("GET", "/v1/recordings")).get("recordings", [])
        assert running == [], running  # nothing listed as recording once the dust settles


async def _start(api: LivetapeClient) -> str | None:
    try:
        return await api.start_recording(ROOM, "after-hang", user_id="carol")
    except ApiError as exc:
        if exc.code in (30000208, 30000207):  # still catching up
            return None
        raise


async def _health(node: LiveServer, *, connected: bool) -> bool:
    health = httpx.get(f"{node.url}/healthz", timeout=10).json()
    return bool(health["cluster"]["nats_connected"] is connected)


async def _whole(node: LiveServer) -> bool:
    return live_nodes(node) == ["a", "b", "c"]


async def _room_answers(api: LivetapeClient) -> bool:
    try:
        room = await api.get_room(ROOM)
    except ApiError:
        return False
    return any(m["user_id"] == "alice" for m in room["members"])
