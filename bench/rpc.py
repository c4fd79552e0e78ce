"""JSON-lines request/reply over a child process's stdin/stdout, for the benchmark's helpers.

The controller side (:class:`Child`) starts ``python <script> <args>``, sends one JSON object
per line and reads one reply line per request. The child side (:func:`serve_stdio`) answers
requests with an async handler until stdin closes (the controller exited or crashed), so a
child never outlives its controller for long. The child's own stdout is redirected to stderr
(a log file) so that nothing but replies reaches the pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from janus_ref import proc_cpu_seconds, proc_status_bytes

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
REPLY_LIMIT = 16 * 1024 * 1024  # bytes of one reply line


class ChildError(RuntimeError):
    """The child answered with ``{"error": ...}`` or died."""


class Child:
    """A helper process driven over JSON lines; see the module docstring."""

    def __init__(self, script: Path, args: list[str], log_path: Path) -> None:
        self.script, self.args, self.log_path = script, args, log_path
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._last_cpu = 0.0
        self._last_hwm = 0

    @property
    def pid(self) -> int:
        """The child's process id (it must be running)."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    async def start(self) -> None:
        """Start the child; its stderr goes to ``log_path``."""
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, str(self.script), *self.args, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=log, limit=REPLY_LIMIT,
            )

    async def request(self, cmd: str, timeout: float = 120.0, **fields: Any) -> dict[str, Any]:
        """Send ``{"cmd": cmd, **fields}`` and return the reply; raises ChildError."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise ChildError(f"{self.script.name} is not running")
        async with self._lock:
            proc.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line:
            raise ChildError(f"{self.script.name} exited; see {self.log_path}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise ChildError(f"{self.script.name} {cmd}: {reply['error']}")
        return reply

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the child (the last value once it has exited)."""
        self._sample()
        return self._last_cpu

    def peak_rss_bytes(self) -> int:
        """VmHWM of the child (the last value read while it ran)."""
        self._sample()
        return self._last_hwm

    def _sample(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(OSError):
                self._last_cpu = proc_cpu_seconds(self._proc.pid)
                self._last_hwm = proc_status_bytes(self._proc.pid, "VmHWM")

    async def close(self, timeout: float = 20.0) -> None:
        """Close stdin (the child's cue to exit), then terminate / kill it if it lingers."""
        proc = self._proc
        if proc is None:
            return
        self._sample()  # the last CPU / RSS figures stay readable afterwards
        self._proc = None
        if proc.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                proc.stdin.close()
        for signal_it in (None, proc.terminate, proc.kill):
            if signal_it is not None:
                with contextlib.suppress(ProcessLookupError):
                    signal_it()
            try:
                await asyncio.wait_for(proc.wait(), timeout)
                return
            except TimeoutError:
                continue


def _reply_stream() -> TextIO:
    """A private copy of stdout for replies; fd 1 then points at stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


async def serve_stdio(handler: Handler) -> None:
    """Answer JSON-line requests from stdin with ``handler`` until stdin closes."""
    out = _reply_stream()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=REPLY_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        request = json.loads(line)
        try:
            reply = await handler(request)
        except Exception as exc:  # reported to the controller, which raises it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
