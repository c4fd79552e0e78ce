"""Old events go, on a real database (SQLite and PostgreSQL): past
LIVETAPE_EVENTS_RETENTION_DAYS an event is deleted with its settled deliveries and their
attempts; one whose delivery is still pending stays until that delivery ends; newer ones
stay; the feed then starts at the oldest event kept."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from livetape.config import Settings
from livetape.db.models import App, Delivery, DeliveryAttempt, Event, Webhook, utcnow
from livetape.db.session import Database
from livetape.events.event_log import new_id, record
from livetape.webhooks.endpoints import new_secret
from livetape.webhooks.feed import EventFeed
from livetape.webhooks.render import EventBody, event_body
from livetape.webhooks.retention import EventRetention

DAYS = 30


async def _count(db: Database, model: type) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _render(rows: list[Event]) -> list[EventBody]:
    return [event_body(row, lambda path: path) for row in rows]


async def test_old_events_go_unless_still_being_delivered(
        database: Database, backend: str) -> None:
    async with database.sessions() as session, session.begin():
        session.add(App(app_id="app1", name="a", secret_key="k" * 32))
        await session.flush()
        session.add(Webhook(webhook_id=new_id("wh"), app_id="app1", url="https://example.org/",
                            events=["file.ready"], secret=new_secret(), created_at=utcnow()))
    async with database.sessions() as session, session.begin():
        for type_ in ("recording.started", "file.ready", "recording.ended"):
            await record(session, "app1", type_, {"type": type_})
    async with database.sessions() as session, session.begin():
        [delivery] = await session.scalars(select(Delivery))  # file.ready's, pending
        await record(session, "app1", "file.deleted", {"type": "file.deleted"})
    later = utcnow() + timedelta(days=DAYS, hours=1)
    async with database.sessions() as session, session.begin():  # the newest: a day younger
        await session.execute(update(Event).where(Event.type == "file.deleted")
                              .values(occurred_at=later - timedelta(days=1)))
    retention = EventRetention(database.sessions, Settings(events_retention_days=DAYS))

    assert await retention.sweep(now=utcnow()) == 0  # nothing is old yet
    assert await retention.sweep(now=later) == 2  # the started and ended events
    async with database.sessions() as session:
        kept = list(await session.scalars(select(Event.type).order_by(Event.seq)))
    assert kept == ["file.ready", "file.deleted"]  # pending delivery; younger

    async with database.sessions() as session, session.begin():  # the delivery ends
        await session.execute(update(Delivery).values(state="delivered"))
        session.add(DeliveryAttempt(delivery_id=delivery.delivery_id, attempt=1,
                                    webhook_id=delivery.webhook_id, at=utcnow(), ok=True,
                                    response_code=200, latency_ms=5))
    assert await retention.sweep(now=later) == 1
    assert (await _count(database, Delivery), await _count(database, DeliveryAttempt)) == (0, 0)

    feed = EventFeed(database.sessions, Settings())
    items, _ = await feed.read("app1", 0, 10, 0, _render)  # from the start: the oldest kept
    assert [body.type for _, body in items] == ["file.deleted"]
