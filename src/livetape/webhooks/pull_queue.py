"""Events to pull and confirm, for receivers that take neither callbacks nor a cursor: the
original's PullEvents / ConfirmEvents, on the same event log as the feed and the webhooks.

A pull hands out up to ``most`` of the app's events (of the types asked for, at most
``LIVETAPE_EVENTS_PULL_MAX_AGE_HOURS`` old) that nobody holds, oldest first, each under a
fresh handle good for ``LIVETAPE_EVENTS_PULL_LEASE_SECONDS``; an event not confirmed by then
is handed out again under a new handle (at least once). A pull waits (long-poll) up to
``wait_seconds`` for one. Pulls of one app take turns (a write lock on the app's row:
PostgreSQL's row lock, SQLite's one writer), so two pulls never hand out the same event at
once.

Only the events above the app's lowest unconfirmed one are looked at: rows below it are
confirmed and are pruned once their lease is over, so the table holds only what is out and
what came since.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import App, Event, PulledEvent, utcnow
from livetape.event_settings import EventSettings


class PullQueue:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 settings: EventSettings) -> None:
        self._sessions = sessions
        self._settings = settings

    async def pull(self, app_id: str, types: list[str], most: int,
                   wait_seconds: float) -> list[tuple[str, Event]]:
        """Up to ``most`` events, each with its handle; none after ``wait_seconds``."""
        deadline = time.monotonic() + wait_seconds
        while True:
            taken = await self._take(app_id, types, most)
            if taken or time.monotonic() >= deadline:
                return taken
            await asyncio.sleep(min(self._settings.events_poll_seconds,
                                    max(0.0, deadline - time.monotonic())))

    async def _take(self, app_id: str, types: list[str], most: int) -> list[tuple[str, Event]]:
        now = utcnow()
        lease = now + timedelta(seconds=self._settings.events_pull_lease_seconds)
        oldest = now - timedelta(hours=self._settings.events_pull_max_age_hours)
        async with self._sessions() as session, session.begin():
            # this app's pulls take turns from here to the commit
            await session.execute(update(App).where(App.app_id == app_id)
                                  .values(app_id=App.app_id))
            floor = await self._floor(session, app_id)
            free = or_(PulledEvent.event_seq.is_(None),
                       and_(PulledEvent.confirmed.is_(False), PulledEvent.lease_until <= now))
            rows = (await session.execute(
                select(Event, PulledEvent)
                .outerjoin(PulledEvent, and_(PulledEvent.app_id == Event.app_id,
                                             PulledEvent.event_seq == Event.seq))
                .where(Event.app_id == app_id, Event.seq > floor, Event.type.in_(types),
                       Event.occurred_at >= oldest, free)
                .order_by(Event.seq).limit(most))).all()
            taken = []
            for event, held in rows:
                handle = f"{event.seq:x}.{secrets.token_urlsafe(18)}"
                if held is None:
                    session.add(PulledEvent(app_id=app_id, event_seq=event.seq, handle=handle,
                                            lease_until=lease, confirmed=False))
                else:
                    held.handle, held.lease_until = handle, lease
                taken.append((handle, event))
        return taken

    async def confirm(self, app_id: str, handles: list[str]) -> list[str]:
        """Confirm the events of ``handles``; returns the handles that were not good (unknown,
        or their lease ran out: their event is handed out again)."""
        now = utcnow()
        async with self._sessions() as session, session.begin():
            good = set(await session.scalars(
                select(PulledEvent.handle).where(
                    PulledEvent.app_id == app_id, PulledEvent.handle.in_(handles),
                    or_(PulledEvent.confirmed.is_(True), PulledEvent.lease_until > now))))
            if good:
                await session.execute(update(PulledEvent).where(
                    PulledEvent.app_id == app_id, PulledEvent.handle.in_(good))
                    .values(confirmed=True))
            await self._prune(session, app_id)
        return [handle for handle in handles if handle not in good]

    @staticmethod
    async def _floor(session: AsyncSession, app_id: str) -> int:
        """Every event at or below it is confirmed (or of no pulled type)."""
        lowest_open = await session.scalar(
            select(func.min(PulledEvent.event_seq)).where(PulledEvent.app_id == app_id,
                                                          PulledEvent.confirmed.is_(False)))
        if lowest_open is not None:
            return int(lowest_open) - 1
        highest = await session.scalar(select(func.max(PulledEvent.event_seq))
                                       .where(PulledEvent.app_id == app_id))
        return int(highest or 0)

    async def _prune(self, session: AsyncSession, app_id: str) -> None:
        """Drop the confirmed rows below the lowest unconfirmed one once their handle's
        lease is over (a confirmation sent again meanwhile is still fine), keeping the
        newest (it marks how far pulls went)."""
        floor = await self._floor(session, app_id)
        await session.execute(delete(PulledEvent).where(
            PulledEvent.app_id == app_id, PulledEvent.event_seq < floor,
            PulledEvent.lease_until <= utcnow()))
