"""The webhooks feature's one service: endpoints (:class:`WebhookBook`), the event feed
(:class:`EventFeed`), events to pull and confirm (:class:`PullQueue`), the deletion of old
events (:class:`EventRetention`) and this server's delivery worker (:class:`Deliverer`), with
the play URLs of events made the way play info makes them (:class:`PlaybackService`).

Play URLs in deliveries point at ``LIVETAPE_PUBLIC_URL`` (else this server's own listen
address: set it when receivers are elsewhere); in the feed, at the URL the request came to,
as play info's do.
"""

from __future__ import annotations

from livetape.config import Settings
from livetape.db.models import Event
from livetape.db.session import Database
from livetape.playback.playback_service import PlaybackService
from livetape.webhooks.deliverer import Deliverer, OnAttempt
from livetape.webhooks.endpoints import WebhookBook
from livetape.webhooks.feed import EventFeed
from livetape.webhooks.pull_queue import PullQueue
from livetape.webhooks.render import EventBody, event_body
from livetape.webhooks.retention import EventRetention


class WebhookService:
    def __init__(self, settings: Settings, db: Database, playback: PlaybackService,
                 node: str, on_attempt: OnAttempt | None = None) -> None:
        self._settings = settings
        self._playback = playback
        self.book = WebhookBook(db.sessions, settings)
        self.feed = EventFeed(db.sessions, settings)
        self.queue = PullQueue(db.sessions, settings)
        self.retention = EventRetention(db.sessions, settings)
        self.deliverer = Deliverer(settings, db.sessions, self._render_one, node, on_attempt)

    def start(self) -> None:
        self.deliverer.start()
        self.retention.start()

    async def stop(self) -> None:
        await self.retention.stop()
        await self.deliverer.stop()

    @property
    def own_base(self) -> str:
        """Where this server is reached when no request says (deliveries' play URLs)."""
        scheme = "https" if self._settings.tls_cert else "http"
        return f"{scheme}://{self._settings.host}:{self._settings.port}"

    async def render(self, events: list[Event], request_base: str) -> list[EventBody]:
        """Events as receivers see them, their objects' URLs made for ``request_base``."""
        urls = {}
        for app_id in {event.app_id for event in events}:
            urls[app_id] = await self._playback.play_urls(app_id, request_base)
        return [event_body(event, urls[event.app_id]) for event in events]

    async def _render_one(self, event: Event) -> EventBody:
        return (await self.render([event], self.own_base))[0]

    async def events(self, app_id: str, after: int, limit: int, wait_seconds: float,
                     request_base: str) -> tuple[list[tuple[int, EventBody]], int]:
        """GET /v1/events."""
        async def render(rows: list[Event]) -> list[EventBody]:
            return await self.render(rows, request_base)

        return await self.feed.read(app_id, after, limit, wait_seconds, render)

    async def pull(self, app_id: str, types: list[str], most: int,
                   request_base: str) -> list[tuple[str, EventBody]]:
        """Events to confirm (:class:`PullQueue`), each with its handle; waits up to
        ``LIVETAPE_EVENTS_PULL_WAIT_SECONDS`` for one."""
        taken = await self.queue.pull(app_id, types, most,
                                      self._settings.events_pull_wait_seconds)
        bodies = await self.render([event for _, event in taken], request_base)
        return [(handle, body) for (handle, _), body in zip(taken, bodies, strict=True)]

    @property
    def pull_lease_seconds(self) -> float:
        return self._settings.events_pull_lease_seconds

    async def confirm(self, app_id: str, handles: list[str]) -> list[str]:
        """Confirm pulled events; the handles that were not good."""
        return await self.queue.confirm(app_id, handles)
