"""Webhooks over HTTP: an app's endpoints (the secret shown once), their deliveries with every
attempt, a delivery sent again by hand; and the event feed (``GET /v1/events``, long-poll).
Each route makes one call to :class:`livetape.webhooks.webhook_service.WebhookService`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from livetape.api.deps import server, services
from livetape.api.envelope import Envelope, Ok
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import BIGINT_MAX, Input
from livetape.errors import Catalogue
from livetape.webhooks.render import EventBody
from livetape.webhooks.webhook_views import DeliveryView, WebhookView

router = APIRouter(tags=["events"])

EventType = Literal["recording.started", "recording.ended", "recording.failed", "file.ready",
                    "job.finished", "file.deleted", "file.expired"]
State = Literal["pending", "sending", "delivered", "failed"]


class NewWebhook(Input):
    url: str = Field(min_length=1, max_length=2000, description="http(s) URL of the receiver; "
                     "a public address unless LIVETAPE_WEBHOOK_ALLOW_PRIVATE")
    events: list[EventType] | None = Field(None, max_length=16,
                                           description="event types to send; none: all")


class WebhookCreated(Envelope):
    webhook_id: str
    secret: str = Field(description="whsec_ + base64: verify deliveries with it (Standard "
                        "Webhooks); shown this once")
    webhook: WebhookView


class WebhookList(Envelope):
    webhooks: list[WebhookView]


class WebhookDeleted(Ok):
    webhook_id: str


class DeliveryList(Envelope):
    deliveries: list[DeliveryView] = Field(description="newest event first")


class DeliveryAnswer(DeliveryView, Envelope):
    """The delivery, due again now."""


class FeedItem(EventBody):
    cursor: int = Field(description="this event's place: ask after=cursor for those after it")


class EventPage(Envelope):
    events: list[FeedItem] = Field(description="in the order they happened")
    next: int = Field(description="the cursor to ask from next (after=next)")


@router.post("/v1/app/webhooks", summary="Register a webhook endpoint (its secret is shown once)")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.CONFLICT)
async def create_webhook(body: NewWebhook, request: Request,
                         who: Annotated[Identity, Depends(server)]) -> WebhookCreated:
    view, secret = await services(request).webhooks.book.create(who.app_id, body.url,
                                                                body.events)
    return WebhookCreated(webhook_id=view.webhook_id, secret=secret, webhook=view)


@router.get("/v1/app/webhooks", summary="The app's webhook endpoints (secrets masked)")
async def list_webhooks(request: Request,
                        who: Annotated[Identity, Depends(server)]) -> WebhookList:
    return WebhookList(webhooks=await services(request).webhooks.book.list(who.app_id))


@router.delete("/v1/app/webhooks/{webhook_id}",
               summary="Delete a webhook endpoint (its unsent deliveries are dropped)")
@raises(Catalogue.NOT_FOUND)
async def delete_webhook(webhook_id: str, request: Request,
                         who: Annotated[Identity, Depends(server)]) -> WebhookDeleted:
    await services(request).webhooks.book.delete(who.app_id, webhook_id)
    return WebhookDeleted(webhook_id=webhook_id)


@router.get("/v1/app/webhooks/{webhook_id}/deliveries",
            summary="A webhook's deliveries, each with every attempt (status, latency, code)")
@raises(Catalogue.NOT_FOUND)
async def list_deliveries(
    webhook_id: str, request: Request, who: Annotated[Identity, Depends(server)],
    state: Annotated[State | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryList:
    found = await services(request).webhooks.book.deliveries(who.app_id, webhook_id,
                                                             state=state, limit=limit)
    return DeliveryList(deliveries=found)


@router.post("/v1/app/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
             summary="Send a delivery again now (same webhook-id), retried as a new one")
@raises(Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def redeliver(webhook_id: str, delivery_id: str, request: Request,
                    who: Annotated[Identity, Depends(server)]) -> DeliveryAnswer:
    view = await services(request).webhooks.book.redeliver(who.app_id, webhook_id,
                                                           delivery_id)
    return DeliveryAnswer(**view.model_dump())


@router.get("/v1/events", summary="The app's events in order after a cursor (long-poll)")
async def events(
    request: Request, who: Annotated[Identity, Depends(server)],
    after: Annotated[int, Query(ge=0, le=BIGINT_MAX, description="a cursor: 0 for the "
                                "first event, else a `next` or an event's `cursor`")] = 0,
    limit: Annotated[int, Query(ge=1, le=10000, description="at most this many (and at most "
                                "LIVETAPE_EVENTS_MAX_LIMIT)")] = 100,
    wait_seconds: Annotated[float, Query(ge=0, le=300, description="wait this long for an "
                                         "event when there is none yet (at most "
                                         "LIVETAPE_EVENTS_MAX_WAIT_SECONDS)")] = 0,
) -> EventPage:
    found, cursor = await services(request).webhooks.events(
        who.app_id, after, limit, wait_seconds, str(request.base_url))
    return EventPage(events=[FeedItem(cursor=seq, **body.model_dump()) for seq, body in found],
                     next=cursor)
