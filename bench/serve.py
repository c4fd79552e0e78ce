"""Range-GET serving: livetape's /media/ URLs, direct and handing the bytes to nginx
(X-Accel-Redirect), vs Debian's nginx alone on the very same file.

One MP4 (generated once with /usr/bin/ffmpeg, 60 s 1280x720 H.264 + AAC, ~30 MB, cached under
/tmp) is added to a fresh livetape library through the library's own Python API; a real
``livetape serve`` process then serves it, and the play URL is asked for over the HTTP API
as a client would (``GET /v1/vod/play-info``). nginx (one worker process, sendfile on, access
log off) runs as this user from a generated config whose ``/media/`` alias is livetape's
storage folder, so both serve the same bytes on the same path. A second ``livetape serve``
(LIVETAPE_ACCEL_REDIRECT=/internal/, its own library with the same clip) sits behind a second
server block of that nginx, the deploy example without TLS: livetape checks each request
(signature included) and nginx sends the file (row ``lt+accel``). Row ``lt->S3``
(:mod:`s3_row`): a third livetape on SeaweedFS answers 302 to a presigned URL, and the client
follows it like a player (:mod:`redirect_client`: once per connection, the later ranges to the
presigned URL). Row ``lt->nginx`` (:mod:`secure_link_row`): a fourth livetape with
LIVETAPE_NGINX_SECURE_LINK_SECRET behind its own nginx answers 302 to a secure link, followed
the same way. The same client (raw asyncio HTTP/1.1 by default, or httpx; the redirect rows
always raw) keeps C connections busy with random ``Range: bytes=a-b`` requests of each size
(the same seeded ranges for every server), reads every body, checks
the 206 status, the Content-Range and the byte count, and counts failures as errors. Server
CPU (user + system, /proc/<pid>/stat; nginx master + workers) over the window gives CPU-s
per GB served, for livetape's process, nginx's and SeaweedFS's apart, and summed.

    .venv/bin/python bench/serve.py                         # 256 KiB ranges, 8 conns, 10 s
    .venv/bin/python bench/serve.py --sizes 256K,4M,full    # make bench-serve
    .venv/bin/python bench/serve.py --sizes 256K,4M,full --profile

The report is also written to bench/out/serve.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import os
import platform
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

from library_file import check_bytes, make_clip, serve_clip
from livetape_harness.server import LiveServer
from measure import host_jiffies
from nginx_ref import NginxRef, nginx_version
from procfs import proc_cpu_seconds
from rangeclient import Client, HttpxClient, RawClient, make_client
from rangeload import FULL, Result, Target, load, size_label
from redirect_client import RedirectClient
from s3_row import S3_ROW, S3Row
from secure_link_row import LINK_ROW, SecureLinkRow
from serve_profile import profile

OUT_FILE = Path(__file__).resolve().parent / "out" / "serve.txt"
QUIET_BUSY, QUIET_TIMEOUT_S = 0.10, 30.0  # before the runs: host busy under 10 %, or 30 s
ACCEL = "lt+accel"  # livetape (LIVETAPE_ACCEL_REDIRECT) behind nginx, which sends the bytes
ACCEL_TARGET = 2.0  # livetape's own CPU-s/GB in a redirect mode, at most this x nginx alone's
REDIRECT_ROWS = (ACCEL, LINK_ROW, S3_ROW)  # livetape checks, another server sends the bytes


# ---------------------------------------------------------------- report

COLUMNS = (("server", "<9"), ("range", ">6"), ("conns", ">5"), ("req/s", ">8"), ("MB/s", ">7"),
           ("p50 ms", ">7"), ("p99 ms", ">7"), ("errors", ">6"), ("livetape CPU-s/GB", ">17"),
           ("nginx CPU-s/GB", ">14"), ("S3 CPU-s/GB", ">11"), ("sum CPU-s/GB", ">12"),
           ("srv cores", ">9"), ("client cores", ">12"), ("other cores", ">11"))


def format_table(results: list[Result], missing: Sequence[tuple[str, str]] = ()) -> str:
    """One line per (server, size); ``missing`` rows (name, why) say why they did not run."""
    head = "  ".join(f"{name:{align}}" for name, align in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in results:
        parts = [r.cpu_per_gb_of(kind) for kind in ("livetape", "nginx", "S3")]
        cells = (r.server, size_label(r.size), r.connections, f"{r.rps:.0f}", f"{r.mbps:.0f}",
                 f"{r.latency_ms(0.5):.2f}", f"{r.latency_ms(0.99):.2f}", r.errors,
                 *("-" if p is None else f"{p:.2f}" for p in parts), f"{r.cpu_per_gb:.2f}",
                 f"{r.server_cores:.2f}", f"{r.client_cores:.2f}", f"{r.other_cores:.2f}")
        lines.append("  ".join(f"{c:{align}}" for c, (_, align) in zip(cells, COLUMNS,
                                                                           strict=True)))
    lines += [f"{name:<9}  {why}" for name, why in missing]
    return "\n".join(lines)


def format_ratios(results: list[Result]) -> str:
    lines = []
    for size in dict.fromkeys(r.size for r in results):
        by = {r.server: r for r in results if r.size == size}
        lt, ng = by.get("livetape"), by.get("nginx")
        for xa in (by.get(name) for name in REDIRECT_ROWS):
            if not (xa and ng and xa.rps and ng.rps):
                continue
            own, alone = xa.cpu_per_gb_of("livetape") or 0.0, ng.cpu_per_gb
            lines.append(
                f"{xa.server} at {size_label(size)}: livetape's own CPU-s/GB "
                f"x{own / alone:.2g} nginx alone's (target <= {ACCEL_TARGET:g}: "
                f"{'met' if own <= ACCEL_TARGET * alone else 'MISSED'}), all its servers "
                f"x{xa.cpu_per_gb / alone:.1f}; req/s x{xa.rps / ng.rps:.2f}"
                + (f", livetape direct's CPU-s/GB x{own / lt.cpu_per_gb:.2g}" if lt else ""))
        if not (lt and ng and ng.rps and lt.rps):
            continue
        lines.append(
            f"livetape/nginx at {size_label(size)}: req/s x{lt.rps / ng.rps:.2f}, "
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
        f"nginx: {nginx_version()}, worker_processes 1, sendfile on, "
        "access_log off, keepalive_requests 1000000",
        f"{ACCEL}: a second livetape process with LIVETAPE_ACCEL_REDIRECT=/internal/ behind "
        "that nginx (upstream keepalive 32), which sends the file from its internal location",
        f"{S3_ROW}: a third livetape on SeaweedFS (`weed server`, S3 gateway) answering 302 to "
        "a presigned URL; client follows it once per connection (like Chromium)",
        f"{LINK_ROW}: a fourth livetape with LIVETAPE_NGINX_SECURE_LINK_SECRET behind its own "
        "nginx (same settings), answering 302 to a secure_link URL, followed the same way",
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
    p.add_argument("--skip-nginx", action="store_true",
                   help="livetape direct only (no nginx, no X-Accel-Redirect row)")
    p.add_argument("--skip-accel", action="store_true", help="no X-Accel-Redirect row")
    p.add_argument("--skip-s3", action="store_true", help="no livetape -> S3 redirect row")
    p.add_argument("--skip-link", action="store_true", help="no nginx secure_link row")
    p.add_argument("--profile", action="store_true",
                   help="one more livetape window, at the first size, under py-spy")
    p.add_argument("--keep", action="store_true", help="keep the work dir (data, logs, configs)")
    args = p.parse_args(argv)
    if args.connections < 1 or args.seconds <= 0:
        p.error("--connections >= 1 and --seconds > 0")
    return args


async def main_async(args: argparse.Namespace) -> int:
    """Generate the file, start the servers, run every (size, server), print the report."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # clean up
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    server = LiveServer(work / "livetape")
    accel_on = not (args.skip_nginx or args.skip_accel)
    behind = LiveServer(work / "livetape-accel", env={
        "LIVETAPE_ACCEL_REDIRECT": "/internal/", "LIVETAPE_TRUSTED_PROXIES": "127.0.0.1"})
    nginx = NginxRef(work / "nginx", server.data_dir.resolve() / "storage",
                     (behind.port, behind.data_dir.resolve() / "storage") if accel_on else None)
    s3, linked = S3Row(work / "s3"), SecureLinkRow(work / "secure-link")
    results: list[Result] = []
    missing: list[tuple[str, str]] = []
    failures: list[str] = []
    report: list[str] = []
    try:
        print("-- file ...", file=sys.stderr, flush=True)
        clip = await asyncio.to_thread(make_clip, args.clip_seconds, args.bitrate)
        file_size = clip.stat().st_size
        if any(s > file_size for s in args.sizes):
            raise SystemExit(f"a range size is larger than the file ({file_size} B)")
        play = await serve_clip(server, clip)
        assert server.process is not None
        lt_pid = server.process.pid
        direct = Target("livetape", play, {"livetape": lambda: proc_cpu_seconds(lt_pid)})
        targets = [direct]
        if not args.skip_nginx:
            if accel_on:
                accel_play = await serve_clip(behind, clip)
                assert behind.process is not None
                accel_pid = behind.process.pid
            nginx.prefix.mkdir(parents=True)
            await asyncio.to_thread(nginx.start)
            targets.insert(0, Target("nginx", nginx.url(play), {"nginx": nginx.cpu_seconds}))
            if accel_on:
                targets.insert(1, Target(ACCEL, nginx.url(accel_play, accel=True), {
                    "livetape": lambda: proc_cpu_seconds(accel_pid),
                    "nginx": nginx.cpu_seconds}))
        if not (args.skip_nginx or args.skip_link):
            targets.append(await linked.start(clip))
        if args.skip_s3:
            missing.append((S3_ROW, "skipped (--skip-s3)"))
        else:
            targets.append(await s3.start(clip))
        for target in targets:
            await check_bytes(target.url, clip)
        client_name = (HttpxClient if args.client == "httpx" else RawClient).name
        report = [header(args, clip, file_size, client_name, play, await quiet_host()), ""]
        for size in args.sizes:
            for target in targets:
                label = f"{target.name} {size_label(size)}"
                print(f"-- {label} ...", file=sys.stderr, flush=True)
                client: Client | RedirectClient = (
                    RedirectClient(target.url) if target.follow
                    else make_client(args.client, target.url, args.connections))
                try:
                    result = await load(target, client, size, file_size, args)
                except Exception as exc:
                    traceback.print_exc()
                    failures.append(f"{label}: {type(exc).__name__}: {exc}")
                    continue
                finally:
                    await client.aclose()
                results.append(result)
                asked = f", livetape asked {client.asked} x" if isinstance(
                    client, RedirectClient) else ""
                print(f"   {label}: {result.rps:.0f} req/s, {result.mbps:.0f} MB/s, "
                      f"{result.errors} errors{asked}", file=sys.stderr, flush=True)
        report.append(format_table(results, missing))
        if ratios := format_ratios(results):
            report += ["", ratios]
        errors = [f"{r.server} {size_label(r.size)}: {n} x {kind}" for r in results
                  for kind, n in r.error_kinds.most_common(3)]
        if errors:
            report += ["", "ERRORS (first kinds):", *errors]
        if failures:
            report += ["", "FAILED RUNS:", *failures]
        if args.profile:
            print("-- livetape under py-spy ...", file=sys.stderr, flush=True)
            client = make_client(args.client, play, args.connections)
            try:
                report += ["", *await profile(lt_pid, direct, client, args.sizes[0],
                                              file_size, args, work)]
            finally:
                await client.aclose()
    finally:
        await asyncio.to_thread(nginx.stop)
        await s3.stop()
        await linked.stop()
        await asyncio.to_thread(behind.stop)
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
