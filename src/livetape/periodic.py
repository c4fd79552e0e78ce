"""A background chore run every few seconds inside the server, the first time one interval
after ``start()``; ``stop()`` ends it.

A failing run is logged and retried at the next interval (the database may be away for a
moment); it never ends the loop or the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, every: float, run: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self._every = every
        self._run = run
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self._run()
            except Exception:
                log.exception("%s failed; retrying in %g s", self.name, self._every)

    async def stop(self) -> None:
        """Cancel the loop (idempotent); a run in progress is interrupted."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
