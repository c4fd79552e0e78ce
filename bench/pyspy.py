"""Sampling profile of a running Python process with py-spy, summarised as text.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``, root
first, frames as ``function (file:line)``); own time is the leaf frame's, inclusive time any
frame's on the stack. ``--nonblocking`` keeps the target running at full speed; idle threads
(waiting in epoll / queue.get) are not sampled, so shares are of busy samples.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy_binary() -> str | None:
    """py-spy beside the running interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def record(pid: int, seconds: float, out: Path, rate: int = 100) -> Path:
    """Sample ``pid`` for ``seconds`` into ``out`` (raw collapsed stacks)."""
    binary = py_spy_binary()
    if binary is None:
        raise FileNotFoundError("py-spy not found: .venv/bin/pip install py-spy")
    with out.with_suffix(".log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
            "--rate", str(rate), "--format", "raw", "--function", "--nonblocking",
            "--output", str(out), stdout=log, stderr=log)
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
    """Busy samples by leaf function (own), by any frame (inclusive) and by package (own)."""

    samples: int
    own: Counter[str]
    inclusive: Counter[str]
    package: Counter[str]

    def summary(self, top: int = 12) -> str:
        """The top functions by own time, then own time by package."""
        total = max(1, self.samples)
        lines = [f"{self.samples} busy samples; top {top} functions by own time "
                 f"(own %, inclusive %):"]
        for func, count in self.own.most_common(top):
            lines.append(f"  {100 * count / total:5.1f}  {100 * self.inclusive[func] / total:5.1f}"
                         f"  {func}")
        lines.append("own time by package: " + ", ".join(
            f"{name} {100 * count / total:.0f}%" for name, count in self.package.most_common(8)))
        return "\n".join(lines)


def _package(file: str) -> str:
    """A short owner for a source file: the site-packages top folder, livetape, or stdlib."""
    parts = Path(file).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1:]
        return rest[0].removesuffix(".py") if rest else file
    if "livetape" in parts:
        return "livetape." + ".".join(parts[parts.index("livetape") + 1:-1] or ["(top)"])
    return "stdlib:" + (parts[-2] if len(parts) > 1 and parts[-2] != "python3.11" else
                        parts[-1].removesuffix(".py"))


def parse(raw: Path) -> Profile:
    """Read py-spy's raw output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    package: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if _FRAME.match(f)]
        if not frames:
            continue
        samples += count
        names = [_short(f) for f in frames]
        own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
        match = _FRAME.match(frames[-1])
        package[_package(match.group("file")) if match else "?"] += count
    return Profile(samples, own, inclusive, package)


def _short(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py:12)`` with the package folder kept."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match.group("file")
    parts = Path(file).parts
    where = "/".join(parts[-2:]) if len(parts) > 1 else file
    line = frame[frame.rfind(":") + 1:-1] if frame.rstrip(")").rsplit(":", 1)[-1].isdigit() else ""
    return f"{match.group('func')} ({where}{':' + line if line else ''})"
