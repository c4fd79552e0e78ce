"""Recording capacity: livetape vs aiortc's MediaRecorder vs Janus, N publishers at 720p30.

N publishers (livetape's WhipPublisher, in generator worker processes) send one pre-encoded
clip (720p30 H.264 ~2 Mbit/s + Opus) in a loop; each system records all of them at once.
Per (system, N) it prints the server's CPU seconds per stream-second over a steady-state
window (from /proc/<pid>/stat of the server process only), its peak RSS, video frames sent /
received / written (written = counted by demuxing the finished files), and the generator's
own CPU, pace and the host's load, so a saturated machine shows. Then livetape's CPU ratios
against MediaRecorder and Janus, and optionally a py-spy profile of the livetape server.

    .venv/bin/python bench/record_capacity.py                  # N = 1,8,32,auto; ~10 min
    .venv/bin/python bench/record_capacity.py --n 1,8 --seconds 10 --profile
    .venv/bin/python bench/record_capacity.py --quick          # livetape at N = 1,4; ~2 min
    .venv/bin/python bench/record_capacity.py --media-processes 1,2 --n 8,16,auto \\
        --skip-janus --skip-mediarecorder   # one core vs every core (LIVETAPE_MEDIA_PROCESSES)

``auto``: after the listed N, probe further N (at most --auto-probes runs): doubling past the
largest N if it held, else bisecting between the largest N that held and the smallest that
did not. An N holds when every frame was written, the generator kept >= 98 % of real-time
pace and the server used < 90 % of one core (its event loop is one Python thread). Janus
runs at every N livetape runs; MediaRecorder at --mediarecorder-n (1,2). Last, the memory
each live stream keeps for pre-roll (its current GOP), measured in-process with livetape's
own buffer at --preroll-gops (see preroll_memory.py). The report is also written to
bench/out/record_capacity.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import aiortc
import av

from livetape.config import Settings
from loadgen import build_media, media_bitrate, save_media
from measure import (
    HOLD_PACE,
    HOLD_SERVER_CORES,
    Row,
    format_ratios,
    format_table,
    host_jiffies,
)
from preroll_memory import run as preroll_memory
from systems import RunSettings, livetape_label, run_janus, run_livetape, run_mediarecorder

OUT_FILE = Path(__file__).resolve().parent / "out" / "record_capacity.txt"
AUTO_MAX_N = 256


def _ns(text: str) -> tuple[list[int], bool]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    ns = sorted({int(p) for p in parts if p != "auto"})
    if any(n < 1 for n in ns):
        raise argparse.ArgumentTypeError("N must be >= 1")
    return ns, "auto" in parts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=_ns, default=_ns("1,8,32,auto"),
                   help="stream counts, comma-separated; 'auto' probes further (1,8,32,auto)")
    p.add_argument("--seconds", type=float, default=12.0, help="measured window (12)")
    p.add_argument("--warmup", type=float, default=2.0,
                   help="settle time after all recordings started (2)")
    p.add_argument("--clip-seconds", type=float, default=10.0, help="looped clip length (10)")
    p.add_argument("--workers", type=int, default=None,
                   help="generator processes (default: one per 16 streams, at most one per core)")
    p.add_argument("--auto-probes", type=int, default=2, help="runs 'auto' may add (2)")
    p.add_argument("--mediarecorder-n", type=lambda t: _ns(t)[0], default=[1, 2],
                   help="N for MediaRecorder (1,2)")
    p.add_argument("--skip-janus", action="store_true", help="no Janus runs")
    p.add_argument("--shared-port", action="store_true",
                   help="at each N, also livetape with every stream on one UDP port "
                   "(LIVETAPE_ICE_UDP_PORT)")
    p.add_argument("--media-processes", type=lambda t: _ns(t)[0], default=[1],
                   help="livetape's LIVETAPE_MEDIA_PROCESSES, comma-separated: the N series "
                   "(and 'auto') runs for each, in the same run (1)")
    p.add_argument("--skip-mediarecorder", action="store_true", help="no MediaRecorder runs")
    p.add_argument("--profile", action="store_true",
                   help="one more livetape run under py-spy, at --profile-n")
    p.add_argument("--profile-n", type=int, default=8, help="N of the profiled run (8)")
    p.add_argument("--keep", action="store_true", help="keep the work dir (servers' data, logs)")
    p.add_argument("--preroll-gops", default="2,8",
                   help="key frame intervals (s) at which to measure pre-roll memory (2,8); "
                   "'' for none")
    p.add_argument("--quick", action="store_true",
                   help="livetape only, N = 1,4, 6 s window: a check, not a capacity")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.seconds, args.warmup = ([1, 4], False), 6.0, 1.0
        args.skip_janus = args.skip_mediarecorder = True
    return args


class Bench:
    """Runs the systems, keeps the rows and the failures, decides the auto N."""

    def __init__(self, args: argparse.Namespace, cfg: RunSettings) -> None:
        self.args, self.cfg = args, cfg
        self.rows: list[Row] = []
        self.failures: list[str] = []
        self.verdict = ""
        self.interrupted = False

    async def attempt(self, label: str, run: Callable[[], Awaitable[Row]]) -> Row | None:
        """One run; a failure is recorded and reported, and the benchmark goes on."""
        if self.interrupted:
            raise asyncio.CancelledError
        started = time.monotonic()
        print(f"-- {label} ...", file=sys.stderr, flush=True)
        try:
            row = await run()
        except Exception as exc:
            traceback.print_exc()
            self.failures.append(f"{label}: {type(exc).__name__}: {exc}")
            return None
        print(f"   {label}: {row.cpu_per_stream:.4f} CPU-s/stream-s, pace {row.pace:.1%}, "
              f"all written: {row.ok} ({time.monotonic() - started:.0f} s)",
              file=sys.stderr, flush=True)
        self.rows.append(row)
        return row

    async def at(self, n: int, media_processes: int = 1) -> bool:
        """livetape (and Janus, with one media process) at N; whether livetape held."""
        m = media_processes
        label = livetape_label(media_processes=m)
        row = await self.attempt(f"{label} N={n}", lambda: _first(
            run_livetape(self.cfg, n, media_processes=m)))
        if self.args.shared_port:
            await self.attempt(f"{livetape_label(True, m)} N={n}", lambda: _first(
                run_livetape(self.cfg, n, shared_port=True, media_processes=m)))
        if not self.args.skip_janus and m == self.args.media_processes[0]:
            await self.attempt(f"Janus N={n}", partial(run_janus, self.cfg, n))
        return row is not None and row.held

    async def run(self) -> None:
        ns, auto = self.args.n
        if not self.args.skip_mediarecorder:
            for n in self.args.mediarecorder_n:
                await self.attempt(f"MediaRecorder N={n}", partial(run_mediarecorder, self.cfg, n))
        # each N with every media process count in turn, so both see the same host load
        held: dict[int, dict[int, bool]] = {m: {} for m in self.args.media_processes}
        for n in ns:
            for m in self.args.media_processes:
                held[m][n] = await self.at(n, m)
        for _ in range(self.args.auto_probes if auto else 0):
            probes = {m: _next_probe(held[m]) for m in self.args.media_processes}
            if all(n is None for n in probes.values()):
                break
            for m, n in probes.items():
                if n is not None:
                    held[m][n] = await self.at(n, m)
        verdicts = []
        for m in self.args.media_processes:
            good = [n for n, ok in held[m].items() if ok]
            verdicts.append(f"largest N held with {m} media process(es): {max(good)}" if good
                            else f"with {m} media process(es), livetape held at no N run")
        self.verdict = "\n".join(verdicts) + (
            f"\n(held = every frame written, no datagram dropped by the kernel on livetape's "
            f"sockets, generator pace >= {HOLD_PACE:.0%}, each server process < "
            f"{HOLD_SERVER_CORES:.0%} of a core)")


def _next_probe(held: dict[int, bool]) -> int | None:
    good = [n for n, ok in held.items() if ok]
    bad = [n for n, ok in held.items() if not ok]
    if not bad:
        top = max(held, default=0)
        return min(2 * top, AUTO_MAX_N) if 0 < top < AUTO_MAX_N else None
    hi = min(bad)
    lo = max([n for n in good if n < hi], default=0)
    return (lo + hi) // 2 if hi - lo > 1 else None


async def _first(coro: Awaitable[tuple[Row, object]]) -> Row:
    return (await coro)[0]


async def host_busy(seconds: float = 3.0) -> float:
    """Share of the host's cores busy over ``seconds`` (before the runs: other load)."""
    (b0, t0) = host_jiffies()
    await asyncio.sleep(seconds)
    (b1, t1) = host_jiffies()
    return (b1 - b0) / max(1, t1 - t0)


def header(args: argparse.Namespace, media_info: str, idle_busy: float) -> str:
    """Machine, versions, settings."""
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    janus_v = shutil.which("janus") and "Janus (Debian janus package)"
    return "\n".join([
        f"record_capacity  {time.strftime('%Y-%m-%d %H:%M:%S')}  "
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"aiortc {aiortc.__version__}, PyAV {av.__version__}, {janus_v or 'no janus'}",
        f"media: {media_info}; window {args.seconds:g} s after {args.warmup:g} s warm-up",
        f"host busy before the runs (other load): {idle_busy:.0%} of {os.cpu_count()} cores",
        "command: " + shlex.join([Path(sys.executable).name, *sys.argv]),
    ])


async def main_async(args: argparse.Namespace) -> int:
    """Build the clip, run everything, print and save the report (partial if interrupted)."""
    work = Path(tempfile.mkdtemp(prefix="record-capacity-"))
    cfg = RunSettings(args.seconds, args.warmup, args.workers, work / "media.pkl", work)
    bench = Bench(args, cfg)
    task = asyncio.current_task()
    assert task is not None

    def interrupt() -> None:  # each run cleans up its processes as the cancel unwinds it
        bench.interrupted = True
        task.cancel()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt)
    report: list[str] = []
    try:
        idle_busy = await host_busy()
        t = time.monotonic()
        media = await asyncio.to_thread(build_media, args.clip_seconds)
        save_media(media, cfg.media_path)
        media_info = (f"{media.width}x{media.height}@{media.fps:g} H.264 "
                      f"{media_bitrate(media) / 1e6:.2f} Mbit/s keyint {media.keyframe_interval}"
                      f" + Opus 20 ms, {media.duration:g} s loop (encoded in "
                      f"{time.monotonic() - t:.1f} s)")
        report = [header(args, media_info, idle_busy), ""]
        await bench.run()
        report += [format_table(bench.rows), "", format_ratios(bench.rows), "", bench.verdict]
        if bench.failures:
            report += ["", "FAILED RUNS:", *bench.failures]
        if args.profile:
            report += ["", await _profile(cfg, args.profile_n)]
        if gops := [float(g) for g in args.preroll_gops.split(",") if g.strip()]:
            print("-- pre-roll memory ...", file=sys.stderr, flush=True)
            defaults = Settings()
            report += ["", await asyncio.to_thread(
                preroll_memory, gops, defaults.preroll_seconds, defaults.preroll_max_bytes)]
    except asyncio.CancelledError:
        if not bench.interrupted:
            raise
        report += ["INTERRUPTED; the runs finished so far:", format_table(bench.rows)]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(report) + "\n"
    print(text)
    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(text)
    print(f"(written to {OUT_FILE}; work dir {work if args.keep else 'removed'})",
          file=sys.stderr)
    return 130 if bench.interrupted else 1 if bench.failures else 0


async def _profile(cfg: RunSettings, n: int) -> str:
    """One livetape run with py-spy on the server over the window, summarised."""
    print(f"-- livetape N={n} under py-spy ...", file=sys.stderr, flush=True)
    try:
        row, prof = await run_livetape(cfg, n, profile=True)
    except Exception as exc:
        traceback.print_exc()
        return f"profile: failed: {type(exc).__name__}: {exc}"
    head = (f"profile: livetape server at N={n} under py-spy (--gil --nonblocking, 200 Hz), "
            f"{row.cpu_per_stream:.4f} CPU-s/stream-s, {row.server_cores:.2f} cores, "
            f"all written: {'yes' if row.ok else 'NO'}")
    return head + "\n" + (prof.summary(row.cpu_per_stream) if prof else "no samples")


def main() -> int:
    """Entry point."""
    return asyncio.run(main_async(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
