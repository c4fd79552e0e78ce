"""Sampling profile of a running Python server with py-spy, summarised as text.

``py-spy record --gil --format raw`` samples only the thread holding the GIL, so the samples
track the process's Python CPU time (a GIL-bound server: its samples per second matched its
measured CPU share within a few %); plain mode's idle detection let through waits in
``select`` and ``Condition.wait`` as if busy. ``--nonblocking`` keeps the target at full speed.
Native work done with the GIL released (libsrtp through cffi, x264) is not sampled.

Raw output is collapsed stacks, ``frame;frame;... count``, root first, frames as
``function (file:line)``. Own time is the leaf frame's; inclusive time any frame's on the
stack; a stage is the first rule of :data:`STAGES` met walking from the leaf to the root.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
# (stage, substrings of a frame's "function (path:line)"); checked leaf first, rules in order
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SRTP/SRTCP crypto (pylibsrtp)", ("/pylibsrtp/",)),
    ("handoff to/from aiortc's decoder thread", (
        "/threading.py", "/queue.py", "decoder_worker", "run_coroutine_threadsafe",
        "_write_to_self", "call_soon_threadsafe")),
    ("RTP/RTCP parse + build (aiortc.rtp)", ("/aiortc/rtp.py",)),
    ("jitter buffer (aiortc)", ("/aiortc/jitterbuffer.py",)),
    ("depacketize (aiortc.codecs)", ("/aiortc/codecs/",)),
    ("REMB estimator (aiortc.rate)", ("/aiortc/rate.py",)),
    ("RTP receiver: NACK, stats, RTCP (aiortc)", ("/aiortc/rtcrtpreceiver.py",
                                                  "/aiortc/clock.py", "/aiortc/stats.py")),
    ("DTLS transport demux (aiortc)", ("/aiortc/rtcdtlstransport.py",)),
    ("ICE / UDP receive (aioice)", ("/aioice/",)),
    ("MP4 mux (livetape sink, PyAV)", ("/livetape/recorder/sink.py",)),
    ("recorder logic (livetape)", ("/livetape/recorder/",)),
    ("publication: frames in, clock, pre-roll (livetape)", ("/livetape/live/",)),
    ("other aiortc", ("/aiortc/",)),
    ("other livetape", ("/livetape/",)),
    ("UDP socket reads/writes (asyncio transports)", ("/asyncio/selector_events.py",)),
    ("asyncio event loop: scheduling, tasks, queues, epoll", ("/asyncio/", "/selectors.py")),
)


def py_spy_binary() -> str | None:
    """py-spy beside the running interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def record(pid: int, seconds: float, out: Path, rate: int = 200) -> Path:
    """Sample ``pid`` for ``seconds`` into ``out`` (raw collapsed stacks)."""
    binary = py_spy_binary()
    if binary is None:
        raise FileNotFoundError("py-spy not found: .venv/bin/pip install py-spy")
    with out.with_suffix(".log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
            "--rate", str(rate), "--format", "raw", "--function", "--gil", "--nonblocking",
            "--full-filenames", "--output", str(out), stdout=log, stderr=log)
        try:
            await asyncio.wait_for(proc.wait(), seconds + 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"py-spy failed ({proc.returncode}); see {out.with_suffix('.log')}")
    return out


@dataclass(frozen=True)
class Profile:
    """GIL-holding samples by leaf function (own), any frame (inclusive) and stage."""

    samples: int
    own: Counter[str]
    inclusive: Counter[str]
    stages: Counter[str]

    def summary(self, cpu_per_stream: float, top: int = 12) -> str:
        """Stages, then the top functions by own time; CPU-s per stream-s apportioned."""
        total = max(1, self.samples)
        lines = [f"{self.samples} samples with the GIL held; by stage (share, CPU-s/stream-s):"]
        for stage, count in self.stages.most_common():
            lines.append(f"  {100 * count / total:5.1f} %  {cpu_per_stream * count / total:.4f}"
                         f"  {stage}")
        lines.append(f"top {top} functions by own time (own %, inclusive %):")
        for func, count in self.own.most_common(top):
            lines.append(f"  {100 * count / total:5.1f}  {100 * self.inclusive[func] / total:5.1f}"
                         f"  {func}")
        return "\n".join(lines)


def parse(raw: Path) -> Profile:
    """Read py-spy's raw output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        samples += count
        names = [_short(f) for f in frames]
        own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
        stages[_stage(frames)] += count
    return Profile(samples, own, inclusive, stages)


def _stage(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, needles in STAGES:
            if any(needle in frame for needle in needles):
                return stage
    return "other"


def _short(frame: str) -> str:
    """``func (/long/path/pkg/file.py:12)`` -> ``func (pkg/file.py:12)``."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    where = "/".join(Path(match.group("file")).parts[-2:])
    line = match.group("line")
    return f"{match.group('func')} ({where}{':' + line if line else ''})"
