"""The outbox: an event is written in the same transaction as the change it reports, with one
delivery row per webhook of the app that wants it. Committed together or not at all, so a
crash (kill -9 included) between the change and its delivery loses nothing: the delivery
worker (:mod:`livetape.webhooks.delivery`) finds the rows after a restart, on any server.

``seq`` (the feed's cursor) must grow in commit order, or a reader could step past an event
that commits after a later-numbered one: SQLite has one writer at a time, and on PostgreSQL
each writer of events takes a transaction-scoped advisory lock before numbering its event
(held until it commits; these transactions are short). Each transaction records its event
last, after the rows it changes are locked, so every writer takes row locks before this one
and none can wait for a row while holding it (no deadlock).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from livetape.db.models import Delivery, Event, Webhook, utcnow

EVENT_TYPES = (
    "recording.started", "recording.ended", "recording.failed", "file.ready", "job.finished",
    "file.deleted", "file.expired",
)
_LOCK_KEY = 0x6C7476_65766E74  # "ltv" "evnt": the events' advisory lock on PostgreSQL


def new_id(prefix: str) -> str:
    """A roughly time-ordered id: ``evt_...``, ``dlv_...``, ``wh_...``."""
    return f"{prefix}_{time.time_ns() // 1000:x}{secrets.token_hex(5)}"


async def lock(session: AsyncSession) -> None:
    """Serialize the writers of events until this transaction ends (PostgreSQL; SQLite's
    single writer already does). Idempotent within a transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


async def record(session: AsyncSession, app_id: str, type_: str, data: dict[str, Any], *,
                 recording_id: str | None = None) -> Event:
    """Write an event, and a pending delivery for each of the app's webhooks that wants its
    type, inside ``session``'s open transaction."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    await lock(session)
    event = Event(event_id=new_id("evt"), app_id=app_id, type=type_, occurred_at=utcnow(),
                  recording_id=recording_id, data=data)
    session.add(event)
    await session.flush()  # numbers it (seq)
    hooks = await session.scalars(select(Webhook).where(Webhook.app_id == app_id))
    for hook in hooks:
        if hook.events and type_ not in hook.events:
            continue
        session.add(Delivery(
            delivery_id=new_id("dlv"), webhook_id=hook.webhook_id, app_id=app_id,
            event_seq=event.seq, recording_id=recording_id, state="pending", attempts=0,
            next_attempt_at=event.occurred_at, created_at=event.occurred_at,
        ))
    return event
