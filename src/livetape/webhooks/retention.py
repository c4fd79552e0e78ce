"""Old events go: every ``LIVETAPE_EVENTS_RETENTION_SWEEP_SECONDS`` the events older than
``LIVETAPE_EVENTS_RETENTION_DAYS`` are deleted with their settled deliveries (delivered or
failed) and those deliveries' attempts, a batch at a time. An event with a delivery still
pending or being sent stays until that delivery ends (its retries run for
``LIVETAPE_WEBHOOK_RETRY_HOURS``). The pull queue's rows are left alone: pruned as events
are confirmed, they stay few, and the newest marks how far an app's pulls went.

Every server sweeps (a cluster's too): deleting what another one deleted first deletes
nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import Delivery, DeliveryAttempt, Event, utcnow
from livetape.event_settings import EventSettings
from livetape.periodic import Periodic

log = logging.getLogger(__name__)

BATCH = 1000  # events deleted per transaction


class EventRetention:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 settings: EventSettings) -> None:
        self._sessions = sessions
        self._days = settings.events_retention_days
        self._periodic = Periodic("event retention", settings.events_retention_sweep_seconds,
                                  self.sweep)

    def start(self) -> None:
        if self._days > 0:
            self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def sweep(self, now: datetime | None = None) -> int:
        """Delete the events past their time (and their settled deliveries); how many."""
        cutoff = (now or utcnow()) - timedelta(days=self._days)
        deleted = 0
        while True:
            done = await self._batch(cutoff)
            deleted += done
            if done < BATCH:
                break
        if deleted:
            log.info("event retention: %d event(s) older than %g day(s) deleted", deleted,
                     self._days)
        return deleted

    async def _batch(self, cutoff: datetime) -> int:
        open_delivery = exists().where(Delivery.event_seq == Event.seq,
                                       Delivery.state.in_(("pending", "sending")))
        async with self._sessions() as session, session.begin():
            seqs = list(await session.scalars(
                select(Event.seq).where(Event.occurred_at < cutoff, ~open_delivery)
                .order_by(Event.seq).limit(BATCH)))
            if not seqs:
                return 0
            settled = select(Delivery.delivery_id).where(Delivery.event_seq.in_(seqs))
            await session.execute(delete(DeliveryAttempt).where(
                DeliveryAttempt.delivery_id.in_(settled)))
            await session.execute(delete(Delivery).where(Delivery.event_seq.in_(seqs)))
            await session.execute(delete(Event).where(Event.seq.in_(seqs)))
        return len(seqs)
