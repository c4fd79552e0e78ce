"""``serve.py --profile``: one more livetape window under py-spy, its samples by serving stage.

py-spy (``--gil``, 200 Hz, :mod:`pyspy`) samples the ``livetape serve`` process while the
same load runs once more; the GIL-holding samples are sorted into serving stages (database
lookup, event loop, file-read thread hops, HTTP parsing, routing, FileResponse, logging) by
the first rule a stack meets from the leaf up, then the top functions by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections import Counter
from pathlib import Path

from pyspy import parse, record
from rangeclient import Client
from rangeload import Target, load, size_label

# (stage, substrings of a frame "function (path:line)"), checked from the leaf up, in order
SERVE_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging (uvicorn access log, livetape)", ("/logging/", "uvicorn/logging.py")),
    ("database lookup per request (SQLAlchemy, aiosqlite)", ("/sqlalchemy/", "/aiosqlite/")),
    ("file reads: anyio threads + wake-ups", ("/anyio/", "/threading.py", "/concurrent/",
                                              "/queue.py")),
    ("FileResponse: headers, ranges, chunks (starlette)", ("starlette/responses.py",)),
    ("HTTP/1.1 parse + build (uvicorn, h11)", ("/h11/", "uvicorn/protocols/")),
    ("routing, dependencies, middleware (fastapi, starlette, pydantic)", (
        "/fastapi/", "/starlette/", "/pydantic")),
    ("livetape handler + auth", ("/livetape/",)),
    ("event loop (uvloop C: epoll, socket I/O, callbacks), asyncio tasks",
     ("/asyncio/", "/selectors.py", "uvloop")),
)


def serve_stages(raw: Path) -> Counter[str]:
    """GIL-holding samples by serving stage (the first rule met from the leaf up)."""
    stages: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stage = next((name for frame in reversed(stack.split(";"))
                      for name, needles in SERVE_STAGES if any(n in frame for n in needles)),
                     "other")
        stages[stage] += int(count)
    return stages


async def profile(pid: int, target: Target, client: Client, size: int, file_size: int,
                  args: argparse.Namespace, work: Path) -> list[str]:
    """One more livetape run with py-spy sampling the server (process ``pid``) over the
    window."""
    raw = work / "pyspy.raw"
    spy = asyncio.create_task(record(pid, args.warmup + args.seconds, raw))
    us0 = _user_system(pid)
    result = await load(target, client, size, file_size, args)
    us1 = _user_system(pid)
    await spy
    user, system = (b - a for a, b in zip(us0, us1, strict=True))
    prof = parse(raw)
    total = max(1, prof.samples)
    held = prof.samples / 200 / (args.warmup + args.seconds)
    lines = [f"profile: livetape server, {size_label(size)}, {args.connections} connections, "
             f"py-spy --gil --nonblocking 200 Hz: {prof.samples} samples, the GIL held "
             f"{held:.0%} of the time; the server used {result.server_cores:.2f} cores "
             f"({user / (user + system):.0%} user, {system / (user + system):.0%} system), "
             f"{result.rps:.0f} req/s under the profiler",
             "by stage (share of GIL samples):"]
    lines += [f"  {100 * n / total:5.1f} %  {stage}" for stage, n in
              serve_stages(raw).most_common()]
    lines.append("top 15 functions by own time (own %, inclusive %):")
    lines += [f"  {100 * n / total:5.1f}  {100 * prof.inclusive[func] / total:5.1f}  {func}"
              for func, n in prof.own.most_common(15)]
    return lines


def _user_system(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` (all threads)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick
