"""An event as receivers see it: the webhook body and the feed's item are the same JSON.

``{"id", "type", "timestamp", "app_id", "data"}`` (Standard Webhooks' recommended shape,
with the event's id, which is also the ``webhook-id`` header). Objects in ``data`` named by a
``media_path`` get their ``url`` here, made as play info makes them (signed under a fresh
grant when the app signs play URLs), so a URL is valid for LIVETAPE_PLAY_URL_TTL_SECONDS
from the moment it is sent, however late that is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from livetape.db.models import Event

UrlFor = Callable[[str], str]


class EventBody(BaseModel):
    """One event (a webhook's body; an item of GET /v1/events)."""

    id: str = Field(description="unique; the webhook-id header of its deliveries")
    type: str = Field(description="recording.started, recording.ended, recording.failed, "
                      "file.ready, job.finished, file.deleted, file.expired")
    timestamp: str = Field(description="when it happened, ISO 8601 UTC")
    app_id: str
    data: dict[str, Any] = Field(description="the event's fields (README: Events)")


def _with_urls(value: Any, url_for: UrlFor) -> Any:
    if isinstance(value, dict):
        out = {k: _with_urls(v, url_for) for k, v in value.items() if k != "media_path"}
        if isinstance(value.get("media_path"), str):
            out["url"] = url_for(value["media_path"])
        return out
    if isinstance(value, list):
        return [_with_urls(v, url_for) for v in value]
    return value


def event_body(event: Event, url_for: UrlFor) -> EventBody:
    return EventBody(id=event.event_id, type=event.type,
                     timestamp=event.occurred_at.isoformat(), app_id=event.app_id,
                     data=_with_urls(event.data, url_for))
