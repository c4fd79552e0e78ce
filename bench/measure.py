"""What the benchmark measures and prints: CPU windows, MP4 frame counts, result rows, tables.

CPU figures come from /proc (user + system time of one process, all its threads); the host's
busy share from /proc/stat, so a reader can tell when the 2-core machine was saturated.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import av

from loadgen import FPS, LoadGen

HOLD_PACE = 0.98  # the generator must send at least this share of the frames due
HOLD_SERVER_CORES = 0.9  # a Python server's event loop is one core; past this it falls behind
TARGET_VS_MEDIARECORDER = 1 / 40
TARGET_VS_JANUS = 3.0


def host_jiffies() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole host since boot, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def udp_receive_drops() -> int:
    """Datagrams the kernel dropped host-wide because a socket's receive buffer was full."""
    rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()
            if line.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:], strict=True))["RcvbufErrors"])


@dataclass(frozen=True)
class Window:
    """One steady-state window: seconds, CPU seconds of the server and the generator."""

    elapsed: float
    server_cpu: float
    gen_cpu: float
    sent: int  # video frames the generator sent during the window
    host_busy: float  # share of all cores busy (0..1)
    udp_drops: int  # datagrams dropped for a full receive buffer, host-wide


async def measure_window(seconds: float, server_cpu: Callable[[], float], gen: LoadGen) -> Window:
    """Sample CPU counters and frames sent at both ends of a ``seconds`` window."""
    h0, s0, g0, d0 = host_jiffies(), server_cpu(), gen.cpu_seconds(), udp_receive_drops()
    v0, t0 = sum((await gen.sent()).values()), time.monotonic()
    await asyncio.sleep(seconds)
    h1, s1, g1, d1 = host_jiffies(), server_cpu(), gen.cpu_seconds(), udp_receive_drops()
    v1, t1 = sum((await gen.sent()).values()), time.monotonic()
    busy = (h1[0] - h0[0]) / max(1, h1[1] - h0[1])
    return Window(t1 - t0, s1 - s0, g1 - g0, v1 - v0, busy, d1 - d0)


@dataclass(frozen=True)
class Mp4Count:
    """Packets in one file, and video frames missing inside it (gaps in the timeline)."""

    video: int = 0
    audio: int = 0
    missing: int = 0

    def __add__(self, other: Mp4Count) -> Mp4Count:
        return Mp4Count(self.video + other.video, self.audio + other.audio,
                        self.missing + other.missing)


def count_mp4(path: Path, fps: float = FPS) -> Mp4Count:
    """Demux (no decoding) and count packets; a video pts step over 1.5 frames is a gap."""
    video_pts: list[float] = []
    audio = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size == 0 or packet.pts is None:
                continue
            if packet.stream.type == "video":
                video_pts.append(float(packet.pts * packet.time_base))
            elif packet.stream.type == "audio":
                audio += 1
    video_pts.sort()  # re-encoded files may carry B-frames (pts out of decode order)
    missing = sum(max(0, round((b - a) * fps) - 1) for a, b in pairwise(video_pts))
    return Mp4Count(len(video_pts), audio, missing)


@dataclass
class Row:
    """One (system, N) result."""

    system: str
    n: int
    window: Window
    peak_rss: int
    sent: int  # video frames sent over the recording's life
    received: int | None  # video frames the server handed to its recorder (None: not known)
    written: int  # video frames in the finished files
    ok: bool  # every received frame written, nothing lost
    notes: list[str] = field(default_factory=list)
    media_drops: int | None = None  # kernel drops on the server's own media sockets
    busiest_process_cores: float | None = None  # livetape: its busiest media process

    @property
    def cpu_per_stream(self) -> float:
        """Server CPU seconds per stream-second over the window."""
        return self.window.server_cpu / (self.n * self.window.elapsed)

    @property
    def server_cores(self) -> float:
        """Server CPU seconds per second (cores used)."""
        return self.window.server_cpu / self.window.elapsed

    @property
    def gen_cores(self) -> float:
        """Generator CPU seconds per second."""
        return self.window.gen_cpu / self.window.elapsed

    @property
    def other_cores(self) -> float:
        """Host CPU used by neither the server nor the generator (the bench itself, others)."""
        busy = self.window.host_busy * (os.cpu_count() or 1)
        return busy - self.server_cores - self.gen_cores

    @property
    def pace(self) -> float:
        """Frames the generator sent in the window over the frames due (1.0 = real time)."""
        return self.window.sent / (self.n * FPS * self.window.elapsed)

    @property
    def held(self) -> bool:
        """Every frame written, no datagram dropped on the server's sockets, the generator
        at real-time pace, no server process (event loop) saturated."""
        busiest = self.server_cores if self.busiest_process_cores is None \
            else self.busiest_process_cores
        return (self.ok and not self.media_drops and self.pace >= HOLD_PACE
                and busiest < HOLD_SERVER_CORES)


COLUMNS = (("system", "<16"), ("N", ">3"), ("CPU-s/stream-s", ">14"), ("srv cores", ">9"),
           ("peak RSS MB", ">11"), ("sent", ">7"), ("received", ">8"), ("written", ">7"),
           ("all written", ">11"), ("gen CPU-s/s", ">11"), ("gen pace", ">8"),
           ("host busy", ">9"), ("other CPU-s/s", ">13"), ("UDP drops", ">9"),
           ("our drops", ">9"), ("held", ">4"))


def format_table(rows: list[Row]) -> str:
    """The aligned result table, then each row's notes."""
    lines = ["  ".join(f"{name:{spec}}" for name, spec in COLUMNS)]
    for r in rows:
        cells = [r.system, r.n, f"{r.cpu_per_stream:.4f}", f"{r.server_cores:.2f}",
                 f"{r.peak_rss / 1e6:.0f}", r.sent, "-" if r.received is None else r.received,
                 r.written, "yes" if r.ok else "NO", f"{r.gen_cores:.2f}", f"{r.pace:.1%}",
                 f"{r.window.host_busy:.0%}", f"{r.other_cores:.2f}", r.window.udp_drops,
                 "-" if r.media_drops is None else r.media_drops, "yes" if r.held else "no"]
        lines.append("  ".join(f"{c:{spec}}" for c, (_, spec) in zip(cells, COLUMNS, strict=True)))
    lines.append("")
    lines += [f"{r.system} N={r.n}: {'; '.join(r.notes)}" for r in rows if r.notes]
    return "\n".join(lines)


def format_ratios(rows: list[Row]) -> str:
    """livetape's CPU per stream over MediaRecorder's and Janus's, per N, against the targets."""
    by = {(r.system, r.n): r for r in rows}
    mr_ns = sorted(n for s, n in by if s == "MediaRecorder")
    lines = [f"ratios of CPU-s per stream-s (targets: livetape/MediaRecorder <= "
             f"1/{round(1 / TARGET_VS_MEDIARECORDER)}, livetape/Janus <= {TARGET_VS_JANUS:g})",
             f"{'N':>3}  {'livetape/MediaRecorder':<30}  {'livetape/Janus':<20}"]
    starred = False
    for n in sorted(n for s, n in by if s == "livetape"):
        row = by[("livetape", n)]
        lt, held = row.cpu_per_stream, row.held
        mr_cell = jn_cell = "-"
        if mr_ns:
            mr_n = n if n in mr_ns else mr_ns[0]
            starred |= mr_n != n
            ratio = lt / by[("MediaRecorder", mr_n)].cpu_per_stream
            mr_cell = (f"{ratio:.4f} (1/{1 / ratio:.0f}){'*' if mr_n != n else ''} "
                       f"{_verdict(ratio <= TARGET_VS_MEDIARECORDER, held)}")
        if ("Janus", n) in by:
            ratio = lt / by[("Janus", n)].cpu_per_stream
            jn_cell = f"{ratio:.2f} {_verdict(ratio <= TARGET_VS_JANUS, held)}"
        lines.append(f"{n:>3}  {mr_cell:<30}  {jn_cell:<20}")
    if starred:
        lines.append(f"* against MediaRecorder at N={mr_ns[0]} (it was not run at that N)")
    if any(not by[("livetape", n)].held for s, n in by if s == "livetape"):
        lines.append("void: livetape did not hold that N (frames lost or streams dropped), so "
                     "its CPU per stream means nothing there")
    return "\n".join(lines)


def _verdict(met: bool, held: bool) -> str:
    if not held:
        return "void"
    return "ok" if met else "MISSED"
