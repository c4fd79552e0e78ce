"""Range-GET serving: livetape's /media/ URLs vs Debian's nginx on the very same file.

One MP4 (generated once with /usr/bin/ffmpeg, 60 s 1280x720 H.264 + AAC, ~30 MB, cached under
/tmp) is added to a fresh livetape library through the library's own Python API; a real
``livetape serve`` process then serves it, and the play URL is asked for over the HTTP API
as a client would (``GET /v1/vod/play-info``). nginx (one worker process, sendfile on, access
log off) runs as this user from a generated config whose ``/media/`` alias is livetape's
storage folder, so both serve the same bytes on the same path. The same client (raw asyncio
HTTP/1.1 by default, or httpx) keeps C connections busy with random ``Range: bytes=a-b``
requests of each size (the same seeded ranges for both servers), reads every body, checks
the 206 status, the Content-Range and the byte count, and counts failures as errors. Server
CPU (user + system, /proc/<pid>/stat; nginx master + workers) over the window gives CPU-s
per GB served.

    .venv/bin/python bench/serve.py                         # 256 KiB ranges, 8 conns, 10 s
    .venv/bin/python bench/serve.py --sizes 256K,4M,full --profile

The report is also written to bench/out/serve.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import importlib.util
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvloop

from livetape.config import Settings
from livetape.db.session import Database
from livetape.recorder.finalize import probe
from livetape.storage import create_storage
from livetape.vod.jobs import JobQueue
from livetape.vod.library import Library, Provenance
from measure import host_jiffies
from procfs import proc_cpu_seconds
from pyspy import parse, record

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from tests.server import LiveServer, free_port  # noqa: E402

OUT_FILE = Path(__file__).resolve().parent / "out" / "serve.txt"
CLIP_CACHE = Path(tempfile.gettempdir()) / "livetape-bench-serve"
FILE_NAME = "bench-serve"
NGINX = "/usr/sbin/nginx"
REQUEST_TIMEOUT_S = 30.0
QUIET_BUSY, QUIET_TIMEOUT_S = 0.10, 30.0  # before the runs: host busy under 10 %, or 30 s
FULL = 0  # a "size" meaning: the whole file, no Range header (expects 200)


# ---------------------------------------------------------------- the file and the servers

def make_clip(seconds: float, bitrate: str) -> Path:
    """A 1280x720@30 H.264 + AAC MP4 (noise keeps x264 at the bitrate), cached by its settings."""
    path = CLIP_CACHE / f"clip-{seconds:g}s-{bitrate}.mp4"
    if path.exists():
        return path
    CLIP_CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.mp4")
    subprocess.run([
        "/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", f"{seconds:g}",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate, "-maxrate", bitrate,
        "-bufsize", "8M", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
        "-movflags", "+faststart", str(partial)], check=True, timeout=600)
    partial.rename(path)
    return path


async def add_to_library(data_dir: Path, app_id: str, clip: Path) -> str:
    """Put a copy of ``clip`` in the library at ``data_dir`` (it is moved into storage)."""
    settings = Settings(data_dir=data_dir)
    db = Database(settings.resolved_database_url())
    await db.start()
    try:
        incoming = data_dir / "incoming.mp4"
        await asyncio.to_thread(shutil.copyfile, clip, incoming)
        info = await asyncio.to_thread(probe, incoming)
        jobs = JobQueue(db.sessions, max_attempts=settings.job_max_attempts)  # as the app
        library = Library(db.sessions, create_storage(settings), jobs, settings)
        source = Provenance(app_id, FILE_NAME, "bench-serve", 0, "bench", "bench", "camera",
                            0, [])
        return await library.add_recorded(source, incoming, info)
    finally:
        await db.stop()


async def play_url(server: LiveServer) -> str:
    """``file_set[0].play_set[0].url`` of play info, as a client gets it."""
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        response = await http.get(f"{server.url}/v1/vod/play-info",
                                  params={"file_name": FILE_NAME},
                                  headers={"Authorization": f"Bearer {server.secret_key}"})
        response.raise_for_status()
    return str(response.json()["file_set"][0]["play_set"][0]["url"])


@dataclass
class NginxRef:
    """Debian's nginx as this user: a generated config in ``prefix``, serving ``storage``."""

    prefix: Path
    storage: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        temp = "\n".join(f"    {kind}_temp_path {self.prefix}/tmp/{kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # as root the workers would switch to 'nobody', who cannot enter the 0700 work dir
        user = "user root root;\n" if os.geteuid() == 0 else ""
        return f"""{user}worker_processes 1;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;  # no tcp_nopush: corked, 64 KiB bodies waited 40 ms for delayed ACKs
    keepalive_requests 1000000;  # the default (1000) would reconnect; uvicorn never does
    types {{ video/mp4 mp4; }}
    default_type application/octet-stream;
{temp}
    server {{
        listen 127.0.0.1:{self.port};
        location /media/ {{ alias {self.storage}/; }}
    }}
}}
"""

    def start(self) -> None:
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config())
        log = (self.prefix / "stderr.log").open("ab")
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"),
             "-c", str(conf), "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("nginx exited: " + self.log_tail())
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.5):
                if self.workers():
                    return
            time.sleep(0.05)
        raise RuntimeError("nginx did not start: " + self.log_tail())

    def log_tail(self) -> str:
        logs = [self.prefix / "stderr.log", self.prefix / "error.log"]
        return " | ".join(p.read_text(errors="replace")[-1500:] for p in logs if p.exists())

    def workers(self) -> list[int]:
        """The master's children (the worker processes), from /proc."""
        assert self.process is not None
        master, found = self.process.pid, []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat[stat.rindex(")") + 2:].split()[1]) == master:
                        found.append(int(entry.name))
        return found

    def cpu_seconds(self) -> float:
        """Master + workers, user + system."""
        assert self.process is not None
        return sum(proc_cpu_seconds(pid) for pid in [self.process.pid, *self.workers()])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------- the load

class RequestFailed(Exception):
    """A response that was not the expected one (status, range, length, closed connection)."""


@dataclass(frozen=True)
class Reply:
    status: int
    content_range: str | None
    body_bytes: int


class _RawConnection(asyncio.BufferedProtocol):
    """One keep-alive HTTP/1.1 connection, one request at a time, body counted, not kept.

    The body is received into one reused buffer (no allocation per read): the least a Python
    client can do per byte, so the client costs as little CPU as it can on a 2-core host.
    """

    def __init__(self) -> None:
        self._buffer = memoryview(bytearray(1 << 18))
        self._head = bytearray()
        self._left = -1  # body bytes still due; -1 while reading the head
        self._reply: tuple[int, str | None, int] = (0, None, 0)
        self._done: asyncio.Future[Reply] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's: not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(RequestFailed(f"connection closed ({exc or 'EOF'})"))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._left >= 0:
            self._left -= nbytes
        else:
            self._head += self._buffer[:nbytes]
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self._reply, self._left = _parse_head(bytes(self._head[:end]))
            except (ValueError, IndexError) as exc:
                self._fail(RequestFailed(f"bad response head: {exc}"))
                return
            self._left -= len(self._head) - end - 4
            self._head.clear()
        if self._left < 0:
            self._fail(RequestFailed("more bytes than Content-Length"))
        elif self._left == 0 and self._done is not None and not self._done.done():
            status, content_range, length = self._reply
            self._done.set_result(Reply(status, content_range, length))
            self._left = -1

    def _fail(self, exc: Exception) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    async def request(self, raw: bytes) -> Reply:
        assert self.transport is not None
        self._done = asyncio.get_running_loop().create_future()
        self._head.clear()
        self._left = -1
        self.transport.write(raw)
        return await self._done


def _parse_head(head: bytes) -> tuple[tuple[int, str | None, int], int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:])}
    if "content-length" not in headers:
        raise ValueError("no Content-Length")
    length = int(headers["content-length"])
    return (status, headers.get("content-range"), length), length


class RawClient:
    """C keep-alive connections through :class:`_RawConnection` (reconnects after a failure)."""

    name = "raw asyncio (BufferedProtocol)"

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        self._line = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n".encode()
        self._conns: dict[int, _RawConnection] = {}

    async def get(self, worker: int, first: int, last: int) -> Reply:
        conn = self._conns.get(worker)
        if conn is None or conn.transport is None:
            _, conn = await asyncio.get_running_loop().create_connection(
                _RawConnection, self.host, self.port)
            self._conns[worker] = conn
        ranged = f"Range: bytes={first}-{last}\r\n".encode() if last >= 0 else b""
        try:
            return await conn.request(self._line + ranged + b"\r\n")
        except BaseException:  # a timeout or a cancel mid-response: the connection is spent
            if conn.transport is not None:
                conn.transport.abort()
            raise

    async def aclose(self) -> None:
        for conn in self._conns.values():
            if conn.transport is not None:
                conn.transport.close()


class HttpxClient:
    """httpx.AsyncClient with C keep-alive connections, the body read with ``aiter_raw``."""

    name = f"httpx {httpx.__version__} AsyncClient"

    def __init__(self, url: str, connections: int) -> None:
        self.url = url
        limits = httpx.Limits(max_connections=connections,
                              max_keepalive_connections=connections)
        self._http = httpx.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT_S, limits=limits)

    async def get(self, worker: int, first: int, last: int) -> Reply:
        headers = {"Range": f"bytes={first}-{last}"} if last >= 0 else {}
        try:
            async with self._http.stream("GET", self.url, headers=headers) as response:
                got = 0
                async for chunk in response.aiter_raw():
                    got += len(chunk)
        except httpx.HTTPError as exc:
            raise RequestFailed(f"{type(exc).__name__}: {exc}") from exc
        return Reply(response.status_code, response.headers.get("content-range"), got)

    async def aclose(self) -> None:
        await self._http.aclose()


Client = RawClient | HttpxClient


@dataclass
class Target:
    """One server under load: its name, the URL of the file, its CPU counter."""

    name: str
    url: str
    cpu_seconds: Callable[[], float]


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
    server_cpu: float
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
    def cpu_per_gb(self) -> float:
        return self.server_cpu / (self.body_bytes / 1e9) if self.body_bytes else float("nan")

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


async def load(target: Target, client: Client, size: int, file_size: int,
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
    return Result(target.name, size, args.connections, t1 - t0, counted["requests"],
                  counted["bytes"], latencies, counted["errors"], kinds, s1 - s0, c1 - c0, busy)


def _user_system(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` (all threads)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _self_cpu() -> float:
    return proc_cpu_seconds(os.getpid())


def make_client(kind: str, url: str, connections: int) -> Client:
    return HttpxClient(url, connections) if kind == "httpx" else RawClient(url)


async def check_bytes(url: str, clip: Path) -> None:
    """One range and the whole file from ``url`` equal the file's bytes (not timed)."""
    data = clip.read_bytes()
    first, last = len(data) // 3, len(data) // 3 + 99_999
    async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
        part = await http.get(url, headers={"Range": f"bytes={first}-{last}"})
        whole = await http.get(url)
    if part.status_code != 206 or part.content != data[first:last + 1]:
        raise RuntimeError(f"{url}: range check failed ({part.status_code}, "
                           f"{len(part.content)} B): {part.text[:300]!r}")
    if whole.status_code != 200 or whole.content != data:
        raise RuntimeError(f"{url}: whole-file check failed ({whole.status_code})")


# ---------------------------------------------------------------- profile

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


async def profile(server: LiveServer, target: Target, client: Client, size: int,
                  file_size: int, args: argparse.Namespace, work: Path) -> list[str]:
    """One more livetape run with py-spy sampling the server over the window."""
    assert server.process is not None
    pid, raw = server.process.pid, work / "pyspy.raw"
    spy = asyncio.create_task(record(pid, args.warmup + args.seconds, raw))
    us0 = _user_system(pid)
    result = await load(target, client, size, file_size, args)
    us1 = _user_system(pid)
    await spy
    user, system = (b - a for a, b in zip(us0, us1, strict=True))
    prof = parse(raw)
    total = max(1, prof.samples)
    held = prof.samples / 200 / (args.warmup + args.seconds)
    lines = [f"profile: livetape server, {_size_label(size)}, {args.connections} connections, "
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


# ---------------------------------------------------------------- report

COLUMNS = (("server", "<9"), ("range", ">6"), ("conns", ">5"), ("req/s", ">8"), ("MB/s", ">7"),
           ("p50 ms", ">7"), ("p99 ms", ">7"), ("errors", ">6"), ("srv CPU-s/GB", ">12"),
           ("srv cores", ">9"), ("client cores", ">12"), ("other cores", ">11"))


def _size_label(size: int) -> str:
    if size == FULL:
        return "full"
    for unit, scale in (("M", 1 << 20), ("K", 1 << 10)):
        if size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def format_table(results: list[Result]) -> str:
    head = "  ".join(f"{name:{align}}" for name, align in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in results:
        cells = (r.server, _size_label(r.size), r.connections, f"{r.rps:.0f}", f"{r.mbps:.0f}",
                 f"{r.latency_ms(0.5):.2f}", f"{r.latency_ms(0.99):.2f}", r.errors,
                 f"{r.cpu_per_gb:.2f}", f"{r.server_cores:.2f}", f"{r.client_cores:.2f}",
                 f"{r.other_cores:.2f}")
        lines.append("  ".join(f"{c:{align}}" for c, (_, align) in zip(cells, COLUMNS,
                                                                           strict=True)))
    return "\n".join(lines)


def format_ratios(results: list[Result]) -> str:
    lines = []
    for size in dict.fromkeys(r.size for r in results):
        by = {r.server: r for r in results if r.size == size}
        lt, ng = by.get("livetape"), by.get("nginx")
        if not (lt and ng and ng.rps and lt.rps):
            continue
        lines.append(
            f"livetape/nginx at {_size_label(size)}: req/s x{lt.rps / ng.rps:.2f}, "
            f"p50 x{lt.latency_ms(0.5) / ng.latency_ms(0.5):.1f}, "
            f"p99 x{lt.latency_ms(0.99) / ng.latency_ms(0.99):.1f}, "
            f"server CPU-s/GB x{lt.cpu_per_gb / ng.cpu_per_gb:.1f}")
        if ng.client_cores > 0.85:
            lines.append(f"  note: the client used {ng.client_cores:.2f} cores against nginx: "
                         "nginx's req/s is bounded by the client (a floor); CPU-s/GB holds")
    return "\n".join(lines)


async def host_busy(seconds: float = 1.0) -> float:
    """Share of the host's cores busy over ``seconds``."""
    (b0, t0) = host_jiffies()
    await asyncio.sleep(seconds)
    (b1, t1) = host_jiffies()
    return (b1 - b0) / max(1, t1 - t0)


async def quiet_host(timeout: float = QUIET_TIMEOUT_S) -> float:
    """Wait until the host is nearly idle (the new file's cover job, other load) or a timeout;
    returns the last second's busy share."""
    deadline = time.monotonic() + timeout
    busy = await host_busy()
    while busy > QUIET_BUSY and time.monotonic() < deadline:
        busy = await host_busy()
    return busy


def header(args: argparse.Namespace, clip: Path, file_size: int, client_name: str,
           play: str, idle_busy: float) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    nginx_v = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}"
                         for p in ("uvicorn", "starlette", "fastapi", "h11", "uvloop"))
    httptools = importlib.util.find_spec("httptools") is not None
    signed = "signed (query: " + urlsplit(play).query[:60] + ")" if urlsplit(play).query \
        else "unsigned"
    return "\n".join([
        f"serve  {time.strftime('%Y-%m-%d %H:%M:%S')}  {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}",
        f"file: {clip.name}, {file_size / 1e6:.1f} MB (page cache warm); play URL {signed}",
        f"livetape: one `livetape serve` process ({versions}, "
        f"{'httptools' if httptools else 'h11 (no httptools)'}; access log on, as shipped)",
        f"nginx: {nginx_v.removeprefix('nginx version: ')}, worker_processes 1, sendfile on, "
        "access_log off, keepalive_requests 1000000",
        f"client: {client_name} on uvloop, in this process, {args.connections} connections, "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s window per row, seed {args.seed}",
        f"host busy before the runs (other load): {idle_busy:.0%} of {os.cpu_count()} cores "
        f"(waited for < {QUIET_BUSY:.0%}, at most {QUIET_TIMEOUT_S:g} s); "
        "'other cores' = host busy minus server and client, during the window",
        "command: " + shlex.join([Path(sys.executable).name, *sys.argv]),
    ])


# ---------------------------------------------------------------- main

def _sizes(text: str) -> list[int]:
    out = []
    for part in (p.strip().upper() for p in text.split(",") if p.strip()):
        if part == "FULL":
            out.append(FULL)
            continue
        match = re.fullmatch(r"(\d+)([KM]?)(I?B)?", part)
        if not match:
            raise argparse.ArgumentTypeError(f"bad size {part!r}: bytes, 256K, 4M or full")
        out.append(int(match[1]) << {"": 0, "K": 10, "M": 20}[match[2]])
    if any(s < 0 for s in out) or not out:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=_sizes, default=_sizes("256K"),
                   help="range sizes, comma-separated: bytes, 256K, 4M or 'full' (whole-file "
                        "GET, 200) (256K)")
    p.add_argument("--connections", "-c", type=int, default=8, help="concurrent connections (8)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured window per row (10)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured load before it (1)")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="load client: raw asyncio streams (cheapest) or httpx (raw)")
    p.add_argument("--seed", type=int, default=1, help="seed of the ranges (1)")
    p.add_argument("--clip-seconds", type=float, default=60.0, help="generated file length (60)")
    p.add_argument("--bitrate", default="4M", help="generated file's video bitrate (4M)")
    p.add_argument("--skip-nginx", action="store_true", help="livetape only")
    p.add_argument("--profile", action="store_true",
                   help="one more livetape window, at the first size, under py-spy")
    p.add_argument("--keep", action="store_true", help="keep the work dir (data, logs, configs)")
    args = p.parse_args(argv)
    if args.connections < 1 or args.seconds <= 0:
        p.error("--connections >= 1 and --seconds > 0")
    return args


async def main_async(args: argparse.Namespace) -> int:
    """Generate the file, start both servers, run every (size, server), print the report."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # clean up
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    server = LiveServer(work / "livetape")
    nginx = NginxRef(work / "nginx", server.data_dir.resolve() / "storage")
    results: list[Result] = []
    failures: list[str] = []
    report: list[str] = []
    try:
        print("-- file ...", file=sys.stderr, flush=True)
        clip = await asyncio.to_thread(make_clip, args.clip_seconds, args.bitrate)
        file_size = clip.stat().st_size
        if any(s > file_size for s in args.sizes):
            raise SystemExit(f"a range size is larger than the file ({file_size} B)")
        server.data_dir.mkdir(parents=True)
        server.app_id, server.secret_key = await asyncio.to_thread(server.create_app, "bench")
        await add_to_library(server.data_dir, server.app_id, clip)
        await asyncio.to_thread(server.start)
        assert server.process is not None
        play = await play_url(server)
        lt_pid = server.process.pid
        targets = [Target("livetape", play, lambda: proc_cpu_seconds(lt_pid))]
        if not args.skip_nginx:
            nginx.prefix.mkdir(parents=True)
            await asyncio.to_thread(nginx.start)
            parts = urlsplit(play)
            targets.insert(0, Target("nginx", parts._replace(
                netloc=f"127.0.0.1:{nginx.port}").geturl(), nginx.cpu_seconds))
        for target in targets:
            await check_bytes(target.url, clip)
        client_name = (HttpxClient if args.client == "httpx" else RawClient).name
        report = [header(args, clip, file_size, client_name, play, await quiet_host()), ""]
        for size in args.sizes:
            for target in targets:
                label = f"{target.name} {_size_label(size)}"
                print(f"-- {label} ...", file=sys.stderr, flush=True)
                client = make_client(args.client, target.url, args.connections)
                try:
                    result = await load(target, client, size, file_size, args)
                except Exception as exc:
                    traceback.print_exc()
                    failures.append(f"{label}: {type(exc).__name__}: {exc}")
                    continue
                finally:
                    await client.aclose()
                results.append(result)
                print(f"   {label}: {result.rps:.0f} req/s, {result.mbps:.0f} MB/s, "
                      f"{result.errors} errors", file=sys.stderr, flush=True)
        report.append(format_table(results))
        if ratios := format_ratios(results):
            report += ["", ratios]
        errors = [f"{r.server} {_size_label(r.size)}: {n} x {kind}" for r in results
                  for kind, n in r.error_kinds.most_common(3)]
        if errors:
            report += ["", "ERRORS (first kinds):", *errors]
        if failures:
            report += ["", "FAILED RUNS:", *failures]
        if args.profile:
            print("-- livetape under py-spy ...", file=sys.stderr, flush=True)
            client = make_client(args.client, play, args.connections)
            try:
                report += ["", *await profile(server, targets[-1], client, args.sizes[0],
                                              file_size, args, work)]
            finally:
                await client.aclose()
    finally:
        await asyncio.to_thread(nginx.stop)
        await asyncio.to_thread(server.stop)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(report) + "\n"
    print(text)
    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(text)
    print(f"(written to {OUT_FILE}; work dir {work if args.keep else 'removed'})",
          file=sys.stderr)
    return 1 if failures or any(r.errors for r in results) else 0


def main() -> int:
    """Entry point."""
    args = parse_args()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        try:
            return runner.run(main_async(args))
        except asyncio.CancelledError:  # SIGTERM (SIGINT raises KeyboardInterrupt)
            return 143


if __name__ == "__main__":
    sys.exit(main())
