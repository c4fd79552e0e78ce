"""Stopping a helper server started in its own session (``start_new_session=True``), with
everything it spawned: SeaweedFS's components, nats-server."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def kill_group(process: subprocess.Popen[bytes] | None) -> None:
    """kill -9 of the process and its group: an outage, nothing flushed."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def stop_group(process: subprocess.Popen[bytes] | None, grace: float = 15) -> None:
    """SIGTERM to the group, then kill -9 after ``grace`` seconds."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            kill_group(process)


def log_tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"
