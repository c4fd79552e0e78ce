"""The range-GET load: C workers sending seeded random ``Range`` requests, and its figures.

:func:`load` drives a client (:mod:`rangeclient`) against a :class:`Target` for a warm-up and a
window, with the same seeded ranges for every server; every reply is checked (status,
Content-Range, byte count) and what completes inside the window becomes a :class:`Result`:
requests, bytes, latencies, errors, and the CPU of the server, this client and the host.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from measure import host_jiffies
from procfs import proc_cpu_seconds
from rangeclient import REQUEST_TIMEOUT_S, Reply, RequestFailed

FULL = 0  # a "size" meaning: the whole file, no Range header (expects 200)


def size_label(size: int) -> str:
    """``256K``, ``4M``, ``full`` or the byte count."""
    if size == FULL:
        return "full"
    for unit, scale in (("M", 1 << 20), ("K", 1 << 10)):
        if size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


class RangeGetter(Protocol):
    """A load client: worker ``worker``'s GET of bytes first..last (last < 0: the whole)."""

    async def get(self, worker: int, first: int, last: int) -> Reply: ...


@dataclass
class Target:
    """One server set-up under load: its name, the URL of the file, and the CPU counter of
    each process kind serving it (``{"livetape": ..., "nginx": ...}``)."""

    name: str
    url: str
    cpu: dict[str, Callable[[], float]]
    follow: bool = False  # a 302 answers: load it like a player (redirect_client)

    def cpu_seconds(self) -> dict[str, float]:
        return {kind: counter() for kind, counter in self.cpu.items()}


@dataclass
class Result:
    server: str
    size: int  # range size in bytes; FULL = whole file
    connections: int
    elapsed: float
    requests: int
    body_bytes: int
    latencies: list[float]  # seconds, requests completed in the window
    errors: int
    error_kinds: Counter[str]
    cpu: dict[str, float]  # CPU seconds in the window by process kind (livetape, nginx)
    client_cpu: float
    host_busy: float

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed

    @property
    def mbps(self) -> float:
        return self.body_bytes / 1e6 / self.elapsed

    def latency_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def server_cpu(self) -> float:
        return sum(self.cpu.values())

    @property
    def cpu_per_gb(self) -> float:
        return self.server_cpu / (self.body_bytes / 1e9) if self.body_bytes else float("nan")

    def cpu_per_gb_of(self, kind: str) -> float | None:
        """CPU-s per GB of one process kind; None when it took no part."""
        if kind not in self.cpu:
            return None
        return self.cpu[kind] / (self.body_bytes / 1e9) if self.body_bytes else float("nan")

    @property
    def server_cores(self) -> float:
        return self.server_cpu / self.elapsed

    @property
    def client_cores(self) -> float:
        return self.client_cpu / self.elapsed

    @property
    def other_cores(self) -> float:
        """Host CPU used by neither the server nor the client (kernel threads, others' load)."""
        return self.host_busy * (os.cpu_count() or 1) - self.server_cores - self.client_cores


def expected(size: int, file_size: int, first: int, last: int) -> tuple[int, str | None, int]:
    """Status, Content-Range and body length a correct server answers."""
    if size == FULL:
        return 200, None, file_size
    return 206, f"bytes {first}-{last}/{file_size}", last - first + 1


async def load(target: Target, client: RangeGetter, size: int, file_size: int,
               args: argparse.Namespace) -> Result:
    """C workers for warm-up + window; what completes inside the window is counted (a
    request in flight at the window's start counts whole: no bias against long requests)."""
    clock = time.perf_counter
    window_start = clock() + args.warmup
    window_end = window_start + args.seconds
    latencies: list[float] = []
    counted = {"requests": 0, "bytes": 0, "errors": 0}
    kinds: Counter[str] = Counter()

    async def worker(i: int) -> None:
        rng = random.Random(f"{args.seed}/{size}/{i}")  # same ranges for every server
        while clock() < window_end:
            if size == FULL:
                first, last = 0, -1
            else:
                first = rng.randrange(0, file_size - size + 1)
                last = first + size - 1
            started = time.perf_counter()  # uvloop's loop.time() ticks in whole ms
            problem = None
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    reply = await client.get(i, first, last)
                want = expected(size, file_size, first, last)
                if (reply.status, reply.content_range, reply.body_bytes) != want:
                    problem = (f"got {reply.status} {reply.content_range} "
                               f"{reply.body_bytes} B, want {want[0]} {want[1]} {want[2]} B")
            except (OSError, RequestFailed, TimeoutError) as exc:
                problem, reply = f"{type(exc).__name__}: {exc}"[:120], None
                await asyncio.sleep(0.01)  # a refusing server: do not spin
            done = time.perf_counter()
            if window_start <= done <= window_end:  # completions, as at steady state
                if problem is not None:
                    counted["errors"] += 1
                    kinds[problem] += 1
                else:
                    assert reply is not None
                    counted["requests"] += 1
                    counted["bytes"] += reply.body_bytes
                    latencies.append(done - started)

    workers = [asyncio.create_task(worker(i)) for i in range(args.connections)]
    try:
        await asyncio.sleep(max(0.0, window_start - clock()))
        h0, s0, c0, t0 = host_jiffies(), target.cpu_seconds(), _self_cpu(), clock()
        await asyncio.sleep(max(0.0, window_end - clock()))
        h1, s1, c1, t1 = host_jiffies(), target.cpu_seconds(), _self_cpu(), clock()
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    busy = (h1[0] - h0[0]) / max(1, h1[1] - h0[1])
    used = {kind: s1[kind] - s0[kind] for kind in s0}
    return Result(target.name, size, args.connections, t1 - t0, counted["requests"],
                  counted["bytes"], latencies, counted["errors"], kinds, used, c1 - c0, busy)


def _self_cpu() -> float:
    return proc_cpu_seconds(os.getpid())
