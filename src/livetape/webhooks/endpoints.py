"""An app's webhook endpoints: register (the secret shown once), list, delete; the deliveries
of one, and a delivery sent again by hand."""

from __future__ import annotations

import base64
import builtins
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import Delivery, DeliveryAttempt, Event, Webhook, utcnow
from livetape.errors import Catalogue, LivetapeError
from livetape.event_settings import EventSettings
from livetape.events.event_log import EVENT_TYPES, new_id
from livetape.webhooks.targets import TargetRefused, resolve
from livetape.webhooks.webhook_views import DeliveryView, WebhookView

DELIVERY_STATES = ("pending", "sending", "delivered", "failed")


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookBook:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 settings: EventSettings) -> None:
        self._sessions = sessions
        self._settings = settings

    async def create(self, app_id: str, url: str,
                     events: Sequence[str] | None) -> tuple[WebhookView, str]:
        """A new endpoint; returns it and its secret (shown this once)."""
        wanted = list(dict.fromkeys(events or []))
        unknown = [e for e in wanted if e not in EVENT_TYPES]
        if unknown:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"unknown event types {unknown}",
                                hint=f"events are some of {list(EVENT_TYPES)} (none: all)")
        try:
            await resolve(url, allow_private=self._settings.webhook_allow_private)
        except TargetRefused as exc:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"url: {exc}",
                                hint="give a public http(s) URL your receiver answers") from exc
        secret = new_secret()
        row = Webhook(webhook_id=new_id("wh"), app_id=app_id, url=url, events=wanted,
                      secret=secret, created_at=utcnow())
        async with self._sessions() as session, session.begin():
            count = await session.scalar(select(func.count()).select_from(Webhook)
                                         .where(Webhook.app_id == app_id))
            if (count or 0) >= self._settings.webhooks_per_app:
                raise LivetapeError(Catalogue.CONFLICT, f"the app has {count} webhooks, the "
                                    "most it may have", hint="delete one first (the limit is "
                                    "LIVETAPE_WEBHOOKS_PER_APP)")
            session.add(row)
        return WebhookView.of(row), secret

    async def list(self, app_id: str) -> builtins.list[WebhookView]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Webhook).where(Webhook.app_id == app_id)
                                         .order_by(Webhook.created_at))
            return [WebhookView.of(row) for row in rows]

    async def _own(self, session: AsyncSession, app_id: str, webhook_id: str) -> Webhook:
        row = await session.get(Webhook, webhook_id)
        if row is None or row.app_id != app_id:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no webhook {webhook_id[:64]!r}")
        return row

    async def delete(self, app_id: str, webhook_id: str) -> None:
        """The endpoint goes, with its deliveries (those not sent are dropped)."""
        async with self._sessions() as session, session.begin():
            await self._own(session, app_id, webhook_id)
            for model in (DeliveryAttempt, Delivery):
                await session.execute(delete(model).where(model.webhook_id == webhook_id))
            await session.execute(delete(Webhook).where(Webhook.webhook_id == webhook_id))

    async def deliveries(self, app_id: str, webhook_id: str, *, state: str | None,
                         limit: int) -> builtins.list[DeliveryView]:
        """The endpoint's deliveries, newest event first, each with its attempts."""
        async with self._sessions() as session:
            await self._own(session, app_id, webhook_id)
            where = [Delivery.webhook_id == webhook_id]
            if state is not None:
                where.append(Delivery.state == state)
            rows = list(await session.scalars(select(Delivery).where(*where)
                                              .order_by(Delivery.event_seq.desc()).limit(limit)))
            ids = [row.delivery_id for row in rows]
            events = {e.seq: e for e in await session.scalars(
                select(Event).where(Event.seq.in_([row.event_seq for row in rows])))}
            attempts: dict[str, builtins.list[DeliveryAttempt]] = {i: [] for i in ids}
            for attempt in await session.scalars(
                    select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids))
                    .order_by(DeliveryAttempt.attempt)):
                attempts[attempt.delivery_id].append(attempt)
        return [DeliveryView.of(row, events.get(row.event_seq), attempts[row.delivery_id])
                for row in rows]

    async def redeliver(self, app_id: str, webhook_id: str, delivery_id: str) -> DeliveryView:
        """Send a delivery again now (delivered or failed ones too), retried as a new event
        would be; its webhook-id stays the event's id."""
        async with self._sessions() as session, session.begin():
            await self._own(session, app_id, webhook_id)
            row = await session.get(Delivery, delivery_id)
            if row is None or row.webhook_id != webhook_id:
                raise LivetapeError(Catalogue.NOT_FOUND, f"no delivery {delivery_id[:64]!r}")
            now = utcnow()
            if row.state == "sending" and row.lease_until and row.lease_until > now:
                raise LivetapeError(Catalogue.CONFLICT, "this delivery is being sent now",
                                    hint="look at its deliveries again in a few seconds")
            await session.execute(update(Delivery).where(Delivery.delivery_id == delivery_id)
                                  .values(state="pending", next_attempt_at=now,
                                          lease_until=None, give_up_at=now + timedelta(
                                              hours=self._settings.webhook_retry_hours)))
        return (await self.deliveries_by_id(app_id, webhook_id, delivery_id))

    async def deliveries_by_id(self, app_id: str, webhook_id: str,
                               delivery_id: str) -> DeliveryView:
        async with self._sessions() as session:
            await self._own(session, app_id, webhook_id)
            row = await session.get(Delivery, delivery_id)
            if row is None or row.webhook_id != webhook_id:
                raise LivetapeError(Catalogue.NOT_FOUND, f"no delivery {delivery_id[:64]!r}")
            event = await session.scalar(select(Event).where(Event.seq == row.event_seq))
            attempts = list(await session.scalars(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.attempt)))
        return DeliveryView.of(row, event, attempts)
