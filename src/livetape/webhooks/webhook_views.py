"""Webhooks, their deliveries and attempts as the API shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from livetape.db.models import Delivery, DeliveryAttempt, Event, Webhook


def masked(secret: str) -> str:
    """``whsec_...`` with all but its last 4 characters hidden."""
    return f"whsec_****{secret[-4:]}"


class WebhookView(BaseModel):
    webhook_id: str
    url: str
    events: list[str] = Field(description="the event types it gets; empty: all of them")
    secret: str = Field(description="masked: the whole secret is shown once, at creation")
    created_at: str = Field(description="ISO 8601")

    @classmethod
    def of(cls, row: Webhook) -> WebhookView:
        return cls(webhook_id=row.webhook_id, url=row.url, events=list(row.events or []),
                   secret=masked(row.secret), created_at=row.created_at.isoformat())


class AttemptView(BaseModel):
    attempt: int = Field(description="1 for the first")
    at: str = Field(description="ISO 8601")
    ok: bool
    response_code: int | None = Field(description="the receiver's HTTP status; null: none "
                                      "(no connection, timeout, refused address)")
    latency_ms: int
    error: str
    node: str = Field(description="the server that sent it")


class DeliveryView(BaseModel):
    delivery_id: str
    event_id: str
    event_type: str
    recording_id: str | None
    state: str = Field(description="pending (due at next_attempt_at), sending, delivered, "
                       "failed (retries ran out)")
    attempts: int
    next_attempt_at: str | None = Field(description="ISO 8601, while pending")
    created_at: str
    delivered_at: str | None
    last_response_code: int | None
    last_latency_ms: int | None
    last_error: str
    attempt_log: list[AttemptView] = Field(description="every attempt, the first first")

    @classmethod
    def of(cls, row: Delivery, event: Event | None,
           attempts: list[DeliveryAttempt]) -> DeliveryView:
        last = attempts[-1] if attempts else None
        return cls(
            delivery_id=row.delivery_id, event_id=event.event_id if event else "",
            event_type=event.type if event else "", recording_id=row.recording_id,
            state=row.state, attempts=row.attempts,
            next_attempt_at=row.next_attempt_at.isoformat() if row.state == "pending" else None,
            created_at=row.created_at.isoformat(),
            delivered_at=row.delivered_at.isoformat() if row.delivered_at else None,
            last_response_code=last.response_code if last else None,
            last_latency_ms=last.latency_ms if last else None,
            last_error=last.error if last else "",
            attempt_log=[AttemptView(
                attempt=a.attempt, at=a.at.isoformat(), ok=a.ok, response_code=a.response_code,
                latency_ms=a.latency_ms, error=a.error, node=a.node) for a in attempts],
        )
