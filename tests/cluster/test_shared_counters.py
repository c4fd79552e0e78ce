"""The cluster's shared counters against a real nats-server, one NATS connection per node as
in a cluster: simultaneous claims from many nodes never pass a limit (compare-and-set), a
slot given back or whose node died frees its place, slots come back after NATS restarts, and
rlimit counts viewer IPs once over every node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from livetape.cluster.connection import ClusterConnection
from livetape.cluster.shared_kv import SharedBucket
from livetape.cluster.slots import BUCKET, PublicationSlots, SlotClaim, decode
from livetape.cluster.viewers import SharedViewers
from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError
from livetape.playback.signing import PlayGuard, new_grant
from livetape_harness.nats import NatsServer

FAST = {"node_heartbeat_seconds": 0.3, "node_dead_seconds": 1.5, "node_timeout_seconds": 2}


def claim(user: str, room: str = "r", src: str = "camera", *, per_app: int | None = None,
          per_user: int = 2, members: int = 50) -> SlotClaim:
    return SlotClaim(app_id="app1", room_id=room, user_id=user, src_type=src,
                     member_limit=members, per_app=per_app, per_user=per_user)


@pytest.fixture
async def connections(tmp_path: Path) -> AsyncIterator[tuple[NatsServer, list[ClusterConnection]]]:
    server = NatsServer(tmp_path / "nats").start()
    made: list[ClusterConnection] = []
    for n in range(3):
        connection = ClusterConnection(server.url, name=f"node {n}", timeout=2)
        await connection.start()
        assert await connection.wait_connected(10)
        made.append(connection)
    yield server, made
    for connection in made:
        await connection.stop()
    server.stop()


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, **FAST)  # type: ignore[arg-type]


async def outcomes(calls: list[asyncio.Future[None] | object]) -> list[int]:
    """0 for each call that passed, the error's code for each refused one."""
    results = await asyncio.gather(*calls, return_exceptions=True)  # type: ignore[arg-type]
    codes = []
    for result in results:
        if isinstance(result, LivetapeError):
            codes.append(result.code)
        elif isinstance(result, BaseException):
            raise result
        else:
            codes.append(0)
    return codes


async def test_simultaneous_claims_through_three_nodes_never_pass_a_limit(
        connections: tuple[NatsServer, list[ClusterConnection]], tmp_path: Path) -> None:
    _, conns = connections
    nodes = [PublicationSlots(c, settings(tmp_path), f"n{i}") for i, c in enumerate(conns)]
    # the app's limit: 9 publishers at once (3 per node), limit 4 -> exactly 5 refused, 1003
    codes = await outcomes([nodes[i % 3].claim(f"p{i}", claim(f"u{i}", room=f"r{i}", per_app=4))
                            for i in range(9)])
    assert sorted(codes) == [0] * 4 + [Catalogue.SERVER_FULL.code] * 5
    # a room of 2 members: three users at once through three nodes -> one refused, 409 1002
    codes = await outcomes([nodes[i].claim(f"m{i}", claim(f"member{i}", room="pair", members=2))
                            for i in range(3)])
    assert sorted(codes) == [0, 0, Catalogue.CONFLICT.code]
    # one user's limit over every node (2): a third stream anywhere is refused
    await nodes[0].claim("s1", claim("sam", room="x1"))
    await nodes[1].claim("s2", claim("sam", room="x2"))
    with pytest.raises(LivetapeError) as refused:
        await nodes[2].claim("s3", claim("sam", room="x3"))
    assert refused.value.kind == Catalogue.SERVER_FULL
    assert refused.value.extra == {"limit": "LIVETAPE_MAX_PUBLICATIONS_PER_USER"}
    # the same source twice in a room, from two nodes: 1002
    with pytest.raises(LivetapeError) as twice:
        await nodes[2].claim("s4", claim("sam", room="x1"))
    assert twice.value.kind == Catalogue.CONFLICT
    # given back: the place is free again (the release is written in the background)
    await nodes[1].start()
    nodes[1].release("s2")
    await wait_for_claim(nodes[2], "s5", claim("sam", room="x3"))
    await nodes[1].stop()


async def wait_for_claim(node: PublicationSlots, slot: str, wanted: SlotClaim,
                         timeout: float = 10) -> float:
    """Seconds until ``node`` takes the slot."""
    started = time.monotonic()
    while True:
        try:
            await node.claim(slot, wanted)
            return time.monotonic() - started
        except LivetapeError:
            if time.monotonic() - started > timeout:
                raise
            await asyncio.sleep(0.1)


async def test_a_dead_nodes_slots_free_after_the_lease_and_renewed_slots_stay(
        connections: tuple[NatsServer, list[ClusterConnection]], tmp_path: Path) -> None:
    _, conns = connections
    alive = PublicationSlots(conns[0], settings(tmp_path), "alive")
    dead = PublicationSlots(conns[1], settings(tmp_path), "dead")
    other = PublicationSlots(conns[2], settings(tmp_path), "other")
    await alive.start()
    await other.start()
    await alive.claim("a1", claim("ann", per_app=2))
    await dead.claim("d1", claim("dan", per_app=2))  # never renewed: as if killed -9
    with pytest.raises(LivetapeError):
        await other.claim("o1", claim("olga", per_app=2))
    # free within the lease (1.5 s) plus a write; the living node's slot is renewed meanwhile
    waited = await wait_for_claim(other, "o1", claim("olga", per_app=2))
    assert waited < 6
    await asyncio.sleep(2)  # past another lease: ann and olga still count (renewed)
    with pytest.raises(LivetapeError):
        await other.claim("o2", claim("oscar", per_app=2))
    await alive.stop()
    await other.stop()


async def test_rlimit_counts_each_ip_once_over_every_node(
        connections: tuple[NatsServer, list[ClusterConnection]], tmp_path: Path) -> None:
    _, conns = connections
    nodes = [SharedViewers(c, settings(tmp_path)) for c in conns]
    expires = int(time.time()) + 60
    # three new viewers at once through three nodes, rlimit 2: exactly one refused
    got = await asyncio.gather(*(nodes[i].admit("ab" * 16, expires, f"10.0.0.{i}", 2)
                                 for i in range(3)))
    assert sum(1 for ips in got if ips is None) == 1
    admitted = next(ips for ips in got if ips is not None and len(ips) == 2)
    # an admitted IP is admitted again on any node; a fourth is not
    for node in nodes:
        assert await node.admit("ab" * 16, expires, admitted[0], 2) is not None
        assert await node.admit("ab" * 16, expires, "10.0.0.9", 2) is None
    # another URL counts afresh
    assert await nodes[0].admit("cd" * 16, expires, "10.0.0.9", 2) == ["10.0.0.9"]


async def test_slots_are_written_again_after_nats_restarts(
        connections: tuple[NatsServer, list[ClusterConnection]], tmp_path: Path) -> None:
    server, conns = connections
    holder = PublicationSlots(conns[0], settings(tmp_path), "holder")
    other = PublicationSlots(conns[1], settings(tmp_path), "other")
    await holder.start()
    await holder.claim("h1", claim("hana", per_app=1))
    server.kill()
    server.start()  # same port, empty memory buckets
    bucket = SharedBucket(conns[2], BUCKET, timeout=2)

    async def written_again() -> bool:
        try:
            _, raw = await bucket.read("app1")
        except LivetapeError:
            return False  # not reconnected yet
        return [s.id for s in decode("app1", raw).slots] == ["h1"]

    started = time.monotonic()
    while not await written_again():
        assert time.monotonic() - started < 20, "the slot was not written again"
        await asyncio.sleep(0.1)
    with pytest.raises(LivetapeError) as refused:
        await other.claim("o1", claim("otto", per_app=1))
    assert refused.value.extra == {"limit": "LIVETAPE_MAX_PUBLICATIONS_PER_APP"}
    await holder.stop()


async def test_play_guards_share_rlimit_and_fall_back_to_their_own_count_without_nats(
        connections: tuple[NatsServer, list[ClusterConnection]], tmp_path: Path) -> None:
    server, conns = connections
    guards = [PlayGuard(100, SharedViewers(c, settings(tmp_path))) for c in conns[:2]]
    path, key = "/media/app1/f1/f0.mp4", "play-key"
    params = dict(parse_qsl(new_grant(60, rlimit=1).query(key, path)))
    await guards[0].admit(key, path, params, "10.0.0.1")
    with pytest.raises(LivetapeError) as refused:  # the other node knows the URL's viewer
        await guards[1].admit(key, path, params, "10.0.0.2")
    assert refused.value.kind is Catalogue.PLAY_FORBIDDEN
    await guards[1].admit(key, path, params, "10.0.0.1")  # the admitted viewer, anywhere
    server.kill()  # NATS away: each node counts on its own, no 500, no refusal of everyone
    fresh = dict(parse_qsl(new_grant(60, rlimit=1).query(key, path)))
    await guards[0].admit(key, path, fresh, "10.0.0.3")
    await guards[1].admit(key, path, fresh, "10.0.0.4")
    with pytest.raises(LivetapeError):
        await guards[1].admit(key, path, fresh, "10.0.0.5")
    await guards[0].admit(key, path, params, "10.0.0.1")  # still known here
