"""What serving a media object needs from the database, remembered for a moment.

Players fire many range requests at one file; looking the file and its app up in the
database for each was half of the serving cost (bench/serve.py). Answers are kept for
``ttl`` seconds (at most ``max_entries``, the least recently used dropped first): a change
made through this process (ModifyVodInfo, DeleteVodFile, app settings) is forgotten at once,
and announced (the ``announce`` hook): in a cluster every other node forgets it at once too
(cluster/notices.py); one made where nothing announces it shows within ``ttl``. A deleted
file's objects are gone from storage, so its URLs answer 404 at once either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.billing.balance import Balances
from livetape.db.models import App, VodFile

_MISSING = object()  # not cached (a cached answer may be None: "no such file")


@dataclass(frozen=True)
class Signing:
    """How an app's play URLs are checked."""

    required: bool
    key: str


class MediaLookup:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, ttl: float,
        max_entries: int = 10_000,
        announce: Callable[[str, dict[str, str]], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._announce = announce
        self._balances = Balances(sessions)
        self._cache: TTLCache[tuple[str, str], Any] = TTLCache(
            maxsize=max_entries, ttl=ttl, timer=time.monotonic)

    def _get(self, key: tuple[str, str]) -> tuple[bool, Any]:
        found = self._cache.get(key, _MISSING)
        if found is _MISSING:
            return False, None
        return True, found

    def _put(self, key: tuple[str, str], value: Any) -> None:
        self._cache[key] = value

    async def file_status(self, app_id: str, file_id: str) -> int | None:
        """The file's status, or None when the app has no such file."""
        hit, value = self._get(("file", file_id))
        if not hit:
            async with self._sessions() as session:
                row = await session.get(VodFile, file_id)
            value = (row.app_id, row.status) if row is not None else None
            self._put(("file", file_id), value)
        if value is None or value[0] != app_id:
            return None
        status: int = value[1]
        return status

    async def signing(self, app_id: str) -> Signing | None:
        hit, value = self._get(("app", app_id))
        if not hit:
            async with self._sessions() as session:
                app = await session.get(App, app_id)
            value = Signing(app.sign_play_urls, app.play_key) if app is not None else None
            self._put(("app", app_id), value)
        found: Signing | None = value
        return found

    async def overdue_since(self, app_id: str) -> datetime | None:
        """Since when the app's balance has been at or below zero (None: it is above)."""
        hit, value = self._get(("due", app_id))
        if not hit:
            async with self._sessions() as session:
                app = await session.get(App, app_id)
            value = (await self._balances.overdue_since(app_id, app.created_at)
                     if app is not None else None)
            self._put(("due", app_id), value)
        since: datetime | None = value
        return since

    def forget_file(self, file_id: str, *, announce: bool = True) -> None:
        """The file changed: look it up again (and tell the other nodes, unless the news
        came from one of them)."""
        self._cache.pop(("file", file_id), None)
        if announce and self._announce is not None:
            self._announce("file_changed", {"file_id": file_id})

    def forget_app(self, app_id: str, *, announce: bool = True) -> None:
        """The app's settings or balance changed (same as :meth:`forget_file`)."""
        self._cache.pop(("app", app_id), None)
        self._cache.pop(("due", app_id), None)
        if announce and self._announce is not None:
            self._announce("app_changed", {"app_id": app_id})
