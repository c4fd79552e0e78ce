"""The worker pool the server runs beside itself (the embedded default).

Each worker is a separate ``livetape worker`` process, so transcoding never competes with
the recorder for the server's interpreter lock. Workers get the server's settings through
``LIVETAPE_*`` variables and watch the server's pid: when the server dies, even by kill -9,
they give their jobs back and exit. A worker that dies is started again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from contextlib import suppress
from pathlib import Path

from livetape.config import Settings

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``LIVETAPE_*`` variables that rebuild them in a child process."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, Path):
            text = str(value.resolve())
        elif isinstance(value, list | dict | bool):
            text = json.dumps(value, default=str)  # Decimal prices: their exact text
        else:
            text = str(value)
        env[f"LIVETAPE_{name.upper()}"] = text
    return env


class WorkerPool:
    def __init__(self, settings: Settings, *, verbose: bool = True) -> None:
        self._settings = settings
        self._verbose = verbose
        self._processes: list[asyncio.subprocess.Process] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.returncode is None]

    def start(self) -> None:
        for index in range(self._settings.job_workers):
            self._tasks.append(asyncio.create_task(self._keep_running(index)))

    async def _spawn(self) -> asyncio.subprocess.Process:
        env = dict(os.environ)
        env.update(settings_environment(self._settings))
        args = [sys.executable, "-m", "livetape", *(["-v"] if self._verbose else []),
                "worker", "--parent-pid", str(os.getpid())]
        return await asyncio.create_subprocess_exec(*args, env=env)

    async def _keep_running(self, index: int) -> None:
        while not self._stopping:
            process = await self._spawn()
            self._processes.append(process)
            log.info("worker %d started (pid %d)", index, process.pid)
            code = await process.wait()
            self._processes.remove(process)
            if not self._stopping:
                log.warning("worker %d (pid %d) exited with %s; restarting", index,
                            process.pid, code)
                await asyncio.sleep(RESTART_DELAY)

    async def stop(self, grace: float = 10.0) -> None:
        """Ask every worker to give its job back and exit; kill those that do not. Idempotent."""
        self._stopping = True
        processes = list(self._processes)
        for process in processes:
            with suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
