"""The delivery rows: which deliveries are due, who sends each, and what became of an attempt.

A server claims due deliveries with one conditional UPDATE per row (it wins only if the row
is still as it read it); on PostgreSQL the read is ``SELECT ... FOR UPDATE SKIP LOCKED``, so
the servers of a cluster each take different rows without waiting: exactly one sends a given
attempt. A claim is a lease (the attempt's timeout and a margin): a server killed while
sending leaves the row to be claimed again once it runs out.

**In order per recording**: a delivery is not due while an earlier event of the same
recording to the same webhook is still ``pending`` or ``sending`` (delivered or failed ones
no longer hold it). Events of no recording go as they come.

**Backoff**: after the n-th failed attempt the next one waits
``LIVETAPE_WEBHOOK_RETRY_FIRST_SECONDS * 2^(n-1)`` (at most ``..._RETRY_MAX_SECONDS``);
attempts go on until ``LIVETAPE_WEBHOOK_RETRY_HOURS`` after the event, then it is ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from livetape.db.models import Delivery, DeliveryAttempt, Event, Webhook, utcnow
from livetape.event_settings import EventSettings

OPEN = ("pending", "sending")
LEASE_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Claimed:
    """A delivery this server holds for one attempt."""

    delivery_id: str
    attempt: int
    webhook: Webhook
    event: Event


@dataclass(frozen=True)
class Outcome:
    ok: bool
    response_code: int | None
    latency_ms: int
    error: str = ""


def backoff(settings: EventSettings, attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th failure."""
    first, most = settings.webhook_retry_first_seconds, settings.webhook_retry_max_seconds
    return float(min(most, first * 2 ** min(attempt - 1, 40)))


class DeliveryLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: EventSettings,
                 node: str) -> None:
        self._sessions = sessions
        self._settings = settings
        self._node = node

    def _due(self, now: datetime) -> list[ColumnElement[bool]]:
        earlier = aliased(Delivery)
        blocked = exists().where(
            earlier.webhook_id == Delivery.webhook_id,
            earlier.recording_id == Delivery.recording_id,  # NULL: no recording, no order
            earlier.event_seq < Delivery.event_seq, earlier.state.in_(OPEN))
        return [or_(and_(Delivery.state == "pending", Delivery.next_attempt_at <= now),
                    and_(Delivery.state == "sending", Delivery.lease_until < now)),
                ~blocked]

    async def claim(self, most: int) -> list[Claimed]:
        """Take up to ``most`` due deliveries, oldest event first, for one attempt each."""
        now = utcnow()
        lease = now + timedelta(seconds=self._settings.webhook_timeout_seconds
                                + LEASE_MARGIN_SECONDS)
        claimed: list[Claimed] = []
        async with self._sessions() as session, session.begin():
            query = select(Delivery).where(*self._due(now)).order_by(Delivery.event_seq) \
                .limit(most)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=Delivery)
            for row in list(await session.scalars(query)):
                delivery_id, attempt = row.delivery_id, row.attempts + 1
                won = await session.execute(
                    update(Delivery).where(Delivery.delivery_id == delivery_id,
                                           Delivery.state == row.state,
                                           Delivery.attempts == attempt - 1)
                    .values(state="sending", attempts=attempt, lease_until=lease)
                    .execution_options(synchronize_session=False))
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another server took it
                hook = await session.get(Webhook, row.webhook_id)
                event = await session.scalar(select(Event).where(Event.seq == row.event_seq))
                if hook is None or event is None:  # deleted meanwhile
                    continue
                claimed.append(Claimed(delivery_id, attempt, hook, event))
        return claimed

    async def release(self, claimed: Claimed) -> None:
        """Give back a delivery whose attempt was cut (this server is stopping): pending and
        due now; the attempt counts (the receiver may have had it)."""
        async with self._sessions() as session, session.begin():
            await session.execute(update(Delivery).where(
                Delivery.delivery_id == claimed.delivery_id, Delivery.state == "sending",
                Delivery.attempts == claimed.attempt,
            ).values(state="pending", lease_until=None, next_attempt_at=utcnow()))

    async def settle(self, claimed: Claimed, outcome: Outcome) -> str:
        """Log the attempt and move the delivery on: delivered, due again later, or failed.
        Returns the delivery's new state."""
        now = utcnow()
        async with self._sessions() as session, session.begin():
            session.add(DeliveryAttempt(
                delivery_id=claimed.delivery_id, attempt=claimed.attempt,
                webhook_id=claimed.webhook.webhook_id, at=now, ok=outcome.ok,
                response_code=outcome.response_code, latency_ms=outcome.latency_ms,
                error=outcome.error[:500], node=self._node[:100]))
            row = await session.get(Delivery, claimed.delivery_id)
            if row is None or row.state != "sending" or row.attempts != claimed.attempt:
                return row.state if row is not None else "deleted"  # no longer ours
            if outcome.ok:
                values: dict[str, object] = {"state": "delivered", "delivered_at": now,
                                             "lease_until": None}
            else:
                give_up = row.give_up_at or row.created_at + timedelta(
                    hours=self._settings.webhook_retry_hours)
                retry_at = now + timedelta(seconds=backoff(self._settings, claimed.attempt))
                values = ({"state": "failed", "lease_until": None} if now >= give_up else
                          {"state": "pending", "lease_until": None,
                           "next_attempt_at": min(retry_at, give_up)})
            await session.execute(update(Delivery).where(
                Delivery.delivery_id == claimed.delivery_id,
                Delivery.attempts == claimed.attempt).values(**values))
            return str(values["state"])
