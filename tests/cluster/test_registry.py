"""The node registry between real nodes: they see each other, a killed node is gone within
LIVETAPE_NODE_DEAD_SECONDS, a node that stops cleanly at once, and a NATS outage answers the
catalogue's 30000401/30000402/30000404 until NATS is back (nodes are not restarted)."""

from __future__ import annotations

import os
import signal
import time

import httpx
import nats

from livetape_harness.nats import NatsServer
from tests.cluster.conftest import NodeFactory, node_ids, registry

FAST = {"node_heartbeat_seconds": 0.5, "node_dead_seconds": 2, "node_timeout_seconds": 1.5}


def wait_until(check: object, timeout: float) -> float:
    """Seconds until ``check()`` is true (fails after ``timeout``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


def test_nodes_see_each_other_and_a_killed_node_is_gone_within_dead_seconds(
        start_node: NodeFactory) -> None:
    a, b, c = (start_node(name, **FAST) for name in ("a", "b", "c"))
    for node in (a, b, c):
        wait_until(lambda node=node: node_ids(node) == ["a", "b", "c"], 10)
    entries = {e["node_id"]: e for e in registry(a).json()["nodes"]}
    assert entries["b"]["public_url"] == f"http://127.0.0.1:{b.port}"
    assert entries["c"]["max_publications"] > 0 and entries["c"]["version"]
    assert entries["a"]["publications"] == 0 and entries["a"]["rooms"] == []
    single = registry(a, "/b")
    assert single.status_code == 200 and single.json()["node_id"] == "b"
    health = httpx.get(f"{a.url}/healthz").json()
    assert health["cluster"] == {"node_id": "a", "nats": "connected", "nats_connected": True}

    c.kill()  # kill -9: no goodbye
    gone_after = wait_until(lambda: node_ids(a) == ["a", "b"], 10)
    assert gone_after <= FAST["node_dead_seconds"] + FAST["node_heartbeat_seconds"] + 1.5
    missing = registry(a, "/c")
    assert missing.status_code == 404 and missing.json()["code"] == 30000403
    assert "'c'" in missing.json()["message"]

    b.stop()  # a clean stop leaves the registry at once
    assert wait_until(lambda: node_ids(a) == ["a"], 1.5) < 1.5


def test_nats_outage_gives_the_catalogue_codes_then_recovers(
        start_node: NodeFactory, nats_server: NatsServer) -> None:
    a, b = start_node("a", **FAST), start_node("b", **FAST)
    wait_until(lambda: node_ids(a) == ["a", "b"], 10)

    assert nats_server.process is not None
    os.killpg(nats_server.process.pid, signal.SIGSTOP)  # NATS hangs: nothing answers
    try:
        hung = registry(a)
        assert hung.status_code == 504, hung.text
        body = hung.json()
        assert body["code"] == 30000404 and nats_server.url in body["message"]
        assert "LIVETAPE_NODE_TIMEOUT_SECONDS" in body["message"]
    finally:
        os.killpg(nats_server.process.pid, signal.SIGCONT)
    wait_until(lambda: registry(a).status_code == 200, 10)

    nats_server.kill()  # NATS down: once the node has noticed (a closed socket), at once
    wait_until(lambda: not httpx.get(f"{a.url}/healthz").json()["cluster"]["nats_connected"],
               5)
    down = registry(a)
    assert down.status_code == 503, down.text
    assert down.json()["code"] == 30000401 and nats_server.url in down.json()["message"]
    assert "NATS" in down.json()["hint"]
    health = httpx.get(f"{b.url}/healthz")
    assert health.status_code == 200 and health.json()["cluster"]["nats_connected"] is False

    nats_server.start()  # back (same port, JetStream's memory bucket lost): nodes rejoin
    took = wait_until(lambda: registry(a).status_code == 200 and node_ids(a) == ["a", "b"], 20)
    print(f"registry whole again {took:.1f} s after NATS came back")
    assert httpx.get(f"{b.url}/healthz").json()["cluster"]["nats"] == "connected"


async def test_a_failing_registry_gives_30000402_and_heals(
        start_node: NodeFactory, nats_server: NatsServer) -> None:
    # heartbeats far apart: none remakes the bucket between its deletion and the call
    a = start_node("a", node_heartbeat_seconds=4, node_dead_seconds=10)
    wait_until(lambda: node_ids(a) == ["a"], 10)
    client = await nats.connect(nats_server.url)
    try:
        await client.jetstream().delete_stream("KV_livetape_nodes")  # the bucket vanishes
        failing = registry(a)
        assert failing.status_code == 503, failing.text
        assert failing.json()["code"] == 30000402
        assert nats_server.url in failing.json()["message"]
    finally:
        await client.close()
    wait_until(lambda: registry(a).status_code == 200 and node_ids(a) == ["a"], 15)


async def test_unreadable_entries_give_30000405_to_30000409(
        start_node: NodeFactory, nats_server: NatsServer) -> None:
    a = start_node("a", **FAST)
    wait_until(lambda: node_ids(a) == ["a"], 10)
    good = registry(a, "/a").json()
    client = await nats.connect(nats_server.url)
    try:
        kv = await client.jetstream().key_value("livetape_nodes")
        cases = {
            "x405": (b"\xff not json", 30000405),
            "x406": (b"[1, 2]", 30000406),
            "x407": (_json({**good, "node_id": "x407", "publications": "many"}), 30000407),
            "x408": (_json({k: v for k, v in {**good, "node_id": "x408"}.items()
                            if k != "public_url"}), 30000408),
            "x409": (_json({**good, "node_id": "someone-else"}), 30000409),
        }
        for key, (raw, _) in cases.items():
            await kv.put(key, raw)
        for key, (_, code) in cases.items():
            answer = registry(a, f"/{key}")
            assert answer.status_code == 502, answer.text
            assert answer.json()["code"] == code
            assert repr(key) in answer.json()["message"]
        listing = registry(a)  # the whole list names the first bad entry
        assert listing.status_code == 502 and listing.json()["code"] == 30000405
    finally:
        await client.close()


def _json(value: object) -> bytes:
    import json

    return json.dumps(value).encode()
