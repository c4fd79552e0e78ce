"""The delivery worker against a real database and a real receiver, without a server: two
workers on one database (two servers of a cluster) send each event once, in order per
recording; a recording that failed is reported once, as recording.failed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from livetape.config import Settings
from livetape.db.models import (
    App,
    DeliveryAttempt,
    Event,
    Recording,
    Segment,
    Webhook,
    utcnow,
)
from livetape.db.session import Database
from livetape.events.event_log import new_id, record
from livetape.events.payloads import recording_ended
from livetape.webhooks.deliverer import Deliverer
from livetape.webhooks.endpoints import new_secret
from livetape.webhooks.render import EventBody, event_body
from livetape_harness.flow import wait_for
from livetape_harness.webhook_receiver import WebhookReceiver
from tests.webhooks.test_webhooks import until, verified

RECORDINGS, PER_RECORDING = 4, 8


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    made = WebhookReceiver(fail_first=1).start()
    yield made
    made.stop()


async def _render(event: Event) -> EventBody:
    return event_body(event, lambda path: f"http://example.invalid{path}")


async def _app_with_webhook(db: Database, url: str) -> tuple[str, str]:
    secret = new_secret()
    async with db.sessions() as session, session.begin():
        session.add(App(app_id="app1", name="a", secret_key="k" * 32))
        await session.flush()
        session.add(Webhook(webhook_id=new_id("wh"), app_id="app1", url=url, events=[],
                            secret=secret, created_at=utcnow()))
    return "app1", secret


def _settings() -> Settings:
    return Settings(webhook_allow_private=True, webhook_retry_first_seconds=0.1,
                    webhook_retry_max_seconds=0.5, webhook_poll_seconds=0.1,
                    webhook_concurrency=4)


async def test_two_servers_send_each_event_once_in_order(
        database: Database, backend: str, receiver: WebhookReceiver) -> None:
    app_id, secret = await _app_with_webhook(database, receiver.url)
    for n in range(PER_RECORDING):  # interleaved: one event of each recording at a time
        for r in range(RECORDINGS):
            async with database.sessions() as session, session.begin():
                await record(session, app_id, "recording.started", {"n": n, "r": r},
                             recording_id=f"rec_{r}")
    other = Database(database.url)  # a second server's own engine on the same database
    await other.start(run_migrations=False)
    workers = [Deliverer(_settings(), db.sessions, _render, f"node-{i}")
               for i, db in enumerate((database, other))]
    for worker in workers:
        worker.start()
    try:
        total = RECORDINGS * PER_RECORDING
        await until(lambda: len({r.message_id for r in receiver.accepted()}) == total,
                    timeout=120)
        await asyncio.sleep(1.0)  # anything sent twice would show by now
    finally:
        for worker in workers:
            await worker.stop()
        await other.stop()
    bodies = verified(secret, receiver.accepted())
    # each event accepted once (every first attempt was answered 500, then retried once)
    assert Counter(b["id"] for b in bodies).most_common(1)[0][1] == 1
    assert Counter(r.message_id for r in receiver.all()).most_common(1)[0][1] == 2
    for r in range(RECORDINGS):  # in order per recording, though 8 sends ran at once
        got = [b["data"]["n"] for b in bodies if b["data"]["r"] == r]
        assert got == list(range(PER_RECORDING)), (r, got)
    nodes = {a.headers.get("user-agent") for a in receiver.all()}
    assert nodes and all(n and n.startswith("livetape-webhooks/") for n in nodes)


async def test_a_failed_recording_is_reported_once(
        database: Database, backend: str, receiver: WebhookReceiver) -> None:
    app_id, secret = await _app_with_webhook(database, receiver.url)
    async with database.sessions() as session, session.begin():
        session.add(Recording(recording_id="rec_f", app_id=app_id, room_id="room", user_id="u",
                              src_type="camera", record_type="video", file_name="lesson",
                              state="ended", end_reason="failed", work_dir="/tmp/x"))
        await session.flush()
        session.add(Segment(recording_id="rec_f", seq=1, part_path="/tmp/x/1", state="done",
                            file_id="f1"))
    for _ in range(2):  # a second ender (another node, a restart) adds nothing
        async with database.sessions() as session, session.begin():
            await recording_ended(session, "rec_f", "failed")
    async with database.sessions() as session:
        types = list(await session.scalars(select(Event.type)))
    assert types == ["recording.failed"]
    worker = Deliverer(_settings(), database.sessions, _render, "node")
    worker.start()
    try:
        await until(lambda: receiver.accepted(), timeout=30)
    finally:
        await worker.stop()
    (body,) = verified(secret, receiver.accepted())
    assert body["type"] == "recording.failed"
    assert (body["data"]["reason"], body["data"]["file_ids"]) == ("failed", ["f1"])


async def test_private_addresses_are_refused_at_delivery_too(
        database: Database, backend: str, receiver: WebhookReceiver) -> None:
    """A URL that points (now) at a private address is not sent to, whatever it resolved to
    when it was registered (DNS rebinding): the attempt is logged as refused and retried."""
    app_id, _ = await _app_with_webhook(database, receiver.url.replace("127.0.0.1",
                                                                       "localhost"))
    async with database.sessions() as session, session.begin():
        await record(session, app_id, "file.deleted", {"file_id": "f1"})
    settings = _settings().model_copy(update={"webhook_allow_private": False})
    worker = Deliverer(settings, database.sessions, _render, "node")
    worker.start()
    try:
        async def refused() -> bool:
            async with database.sessions() as session:
                return bool(list(await session.scalars(select(DeliveryAttempt))))

        await wait_for(refused, timeout=30)
    finally:
        await worker.stop()
    async with database.sessions() as session:
        attempt = (await session.scalars(select(DeliveryAttempt))).first()
    assert attempt is not None and not attempt.ok and attempt.response_code is None
    assert "non-public" in attempt.error and receiver.all() == []
