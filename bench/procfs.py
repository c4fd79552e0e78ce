"""Per-process figures from /proc: CPU seconds and memory fields of one process.

Shared by every harness that measures a server or helper process (Janus, the livetape server,
the benchmark's child processes); reading /proc keeps the measurement outside the process.
"""

from __future__ import annotations

import os
from pathlib import Path


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all threads), from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # comm (field 2) may contain spaces and parentheses: split after its closing one.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def proc_status_bytes(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (e.g. VmHWM, VmRSS), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)
