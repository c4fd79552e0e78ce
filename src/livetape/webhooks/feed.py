"""The event feed (``GET /v1/events``): an app's events in order after a cursor, for
receivers that cannot take callbacks. The cursor is an event's ``seq`` (0: from the start);
with ``wait_seconds`` the call returns as soon as an event is there (long-poll), else when the
wait (at most ``LIVETAPE_EVENTS_MAX_WAIT_SECONDS``) runs out, with none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import Event
from livetape.event_settings import EventSettings
from livetape.webhooks.render import EventBody

RenderAll = Callable[[list[Event]], Awaitable[list[EventBody]]]


class EventFeed:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 settings: EventSettings) -> None:
        self._sessions = sessions
        self._settings = settings

    async def _page(self, app_id: str, after: int, limit: int) -> list[Event]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Event).where(Event.app_id == app_id,
                                                             Event.seq > after)
                                         .order_by(Event.seq).limit(limit))
            return list(rows)

    async def read(self, app_id: str, after: int, limit: int, wait_seconds: float,
                   render: RenderAll) -> tuple[list[tuple[int, EventBody]], int]:
        """Up to ``limit`` events after ``after`` (each with its cursor), and the cursor to
        ask from next (``after`` when there are none)."""
        limit = min(limit, self._settings.events_max_limit)
        deadline = time.monotonic() + min(wait_seconds, self._settings.events_max_wait_seconds)
        while True:
            rows = await self._page(app_id, after, limit)
            if rows or time.monotonic() >= deadline:
                break
            await asyncio.sleep(min(self._settings.events_poll_seconds,
                                    max(0.0, deadline - time.monotonic())))
        bodies = await render(rows)
        return [(row.seq, body) for row, body in zip(rows, bodies, strict=True)], \
            rows[-1].seq if rows else after
