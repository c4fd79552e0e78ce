"""What a cluster adds to a call, measured in one run against its own baseline: a single node
(no NATS) and a three-node cluster (NATS, one PostgreSQL; node a takes no publishers, so each
WHIP POST through it is placed on b or c and proxied over NATS), on the same machine.

Rows (median and 90th percentile of ``--rounds`` calls, milliseconds):
- ``WHIP POST``: an offer answered (placement: every node's streams asked, the registry read,
  the offer proxied to the chosen node and its answer back); each session is DELETEd after.
- ``GET room``: a room's members (every live node asked for its streams).
- ``record start+stop``: a recording of a stream on another node, started and stopped.

    .venv/bin/python bench/cluster_calls.py --rounds 20
(needs LIVETAPE_TEST_POSTGRES_URL, as the tests do)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness.cluster import LocalCluster
from livetape_harness.flow import offer_without_candidates
from livetape_harness.server import LiveServer, create_postgres_database, drop_postgres_database


async def timed(rounds: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    took = []
    for _ in range(rounds):
        began = time.perf_counter()
        await call()
        took.append((time.perf_counter() - began) * 1000)
    return took


async def measure(node: LiveServer, rounds: int) -> dict[str, list[float]]:
    async with LivetapeClient(node.url, secret_key=node.secret_key) as api:
        await api.create_room("bench")
        token = await api.mint_token("viewer")
        offer = await offer_without_candidates()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}

        async def whip() -> None:
            async with httpx.AsyncClient(timeout=30) as http:
                answer = await http.post(api.whip_url("bench"), content=offer, headers=headers)
                assert answer.status_code == 201, answer.text
                gone = await http.delete(str(answer.url.join(answer.headers["location"])),
                                         headers=headers)
                assert gone.status_code in (200, 204), gone.text

        found = {"WHIP POST": await timed(rounds, whip)}
        found["GET room"] = await timed(rounds, lambda: api.get_room("bench"))
        publisher = WhipPublisher(api.whip_url("bench"), await api.mint_token("alice"),
                                  EncodedMedia.synthetic(2.0), loop=True)
        await publisher.start()

        async def record() -> None:
            await api.start_recording("bench", "bench-take", user_id="alice")
            await api.stop_recording("bench", user_id="alice")

        try:
            found["record start+stop"] = await timed(max(3, rounds // 4), record)
        finally:
            await publisher.stop()
    return found


def row(name: str, single: list[float], cluster: list[float]) -> str:
    def stats(values: list[float]) -> str:
        ordered = sorted(values)
        return f"{statistics.median(ordered):7.1f} {ordered[int(len(ordered) * 0.9) - 1]:7.1f}"
    return f"{name:20} {stats(single)}   {stats(cluster)}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    admin = os.environ["LIVETAPE_TEST_POSTGRES_URL"]
    work = Path(tempfile.mkdtemp(prefix="cluster-calls-"))
    db = create_postgres_database(admin)
    single = LiveServer(work / "single", db, start_seconds=90)
    cluster = LocalCluster(work / "cluster", admin, {"a": {"max_publications": 0}, "b": {},
                                                     "c": {}})
    try:
        single.start()
        cluster.start()
        alone = await measure(single, args.rounds)
        spread = await measure(cluster["a"], args.rounds)
    finally:
        single.stop()
        cluster.stop()
        drop_postgres_database(admin, db)
    print(f"{'ms':20} {'single node':>15}   {'cluster, via a':>15}")
    print(f"{'':20} {'median':>7} {'p90':>7}   {'median':>7} {'p90':>7}")
    for name in alone:
        print(row(name, alone[name], spread[name]))


if __name__ == "__main__":
    asyncio.run(main())
