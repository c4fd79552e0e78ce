"""How fast the cluster's shared counters decide (:mod:`livetape.cluster.slots`,
:mod:`livetape.cluster.viewers`): a real nats-server (PyPI's), three NATS connections as
three nodes. Prints, for N publishers claiming slots of one app at the same moment through
the three nodes, how many were admitted (must be the limit) and how long until all were
decided; one claim alone; one rlimit admission of a new viewer IP.

    .venv/bin/python bench/shared_limits.py        # ~15 s
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from livetape.cluster.connection import ClusterConnection
from livetape.cluster.slots import PublicationSlots, SlotClaim
from livetape.cluster.viewers import SharedViewers
from livetape.config import Settings
from livetape_harness.nats import NatsServer

ROUNDS = ((3, 2), (30, 10), (90, 30))  # (simultaneous claims, the app's limit)


async def run(work: Path) -> None:
    server = NatsServer(work / "nats").start()
    connections: list[ClusterConnection] = []
    try:
        for n in range(3):
            connection = ClusterConnection(server.url, name=f"bench {n}", timeout=5)
            await connection.start()
            assert await connection.wait_connected(10)
            connections.append(connection)
        settings = Settings(data_dir=work)
        nodes = [PublicationSlots(c, settings, f"n{n}") for n, c in enumerate(connections)]
        for count, limit in ROUNDS:
            started = time.monotonic()
            results = await asyncio.gather(*(
                nodes[i % 3].claim(f"p{i}", SlotClaim(f"app{count}", f"r{i}", f"u{i}", "camera",
                                                      50, limit, 2))
                for i in range(count)), return_exceptions=True)
            took = time.monotonic() - started
            admitted = sum(1 for r in results if r is None)
            print(f"{count:3d} claims at once through 3 nodes, limit {limit:2d}: {admitted:2d} "
                  f"admitted, all decided in {took * 1000:5.0f} ms")
        started = time.monotonic()
        for i in range(50):
            await nodes[0].claim(f"s{i}", SlotClaim("alone", f"r{i}", f"u{i}", "camera", 50,
                                                    None, 2))
        print(f"one claim alone: {(time.monotonic() - started) / 50 * 1000:.1f} ms")
        viewers = SharedViewers(connections[0], settings)
        expires = int(time.time()) + 600
        started = time.monotonic()
        for i in range(50):
            await viewers.admit(f"{i:032x}", expires, "10.0.0.1", 2)
        print(f"rlimit, a new viewer IP: {(time.monotonic() - started) / 50 * 1000:.1f} ms")
    finally:
        for connection in connections:
            await connection.stop()
        server.stop()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="shared-limits-") as work:
        asyncio.run(run(Path(work)))


if __name__ == "__main__":
    main()
