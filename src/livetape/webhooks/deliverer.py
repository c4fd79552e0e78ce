"""The delivery worker: every server runs one; it claims due deliveries
(:class:`DeliveryLedger`) and POSTs each, signed, to its webhook.

Signed as Standard Webhooks says, with its reference library (``standardwebhooks``):
``webhook-id`` (the event's id: the same on every attempt, so a receiver drops duplicates by
it), ``webhook-timestamp`` (Unix seconds of the attempt) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` with the endpoint's secret). A 2xx
answer delivers; anything else (another status, a redirect, no answer within
``LIVETAPE_WEBHOOK_TIMEOUT_SECONDS``, a refused address) is retried with backoff. At most
``LIVETAPE_WEBHOOK_CONCURRENCY`` attempts run at once; nothing here holds up a recording
(events are written by the changes' own transactions, and sent from here).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook as Signer

from livetape import __version__
from livetape.db.models import Event
from livetape.event_settings import EventSettings
from livetape.webhooks.delivery_ledger import Claimed, DeliveryLedger, Outcome
from livetape.webhooks.render import EventBody
from livetape.webhooks.targets import TargetRefused, resolve

log = logging.getLogger(__name__)

Render = Callable[[Event], Awaitable[EventBody]]
# told each attempt's outcome: "delivered", "retried" (it failed; tried again later) or
# "failed" (it failed and the retries ran out) (/metrics: livetape_webhook_deliveries)
OnAttempt = Callable[[str], None]


def signed_headers(secret: str, msg_id: str, body: str, now: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Signer(secret).sign(msg_id, now, body),
    }


class Deliverer:
    def __init__(self, settings: EventSettings, sessions: async_sessionmaker[AsyncSession],
                 render: Render, node: str, on_attempt: OnAttempt | None = None) -> None:
        self._settings = settings
        self._on_attempt = on_attempt
        self.ledger = DeliveryLedger(sessions, settings, node)
        self._render = render
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._task is not None:
            return
        self._http = httpx.AsyncClient(
            follow_redirects=False, trust_env=False,
            timeout=httpx.Timeout(self._settings.webhook_timeout_seconds),
            headers={"User-Agent": f"livetape-webhooks/{__version__}"},
            limits=httpx.Limits(max_connections=self._settings.webhook_concurrency))
        self._task = asyncio.create_task(self._loop(), name="webhook deliveries")

    async def stop(self) -> None:
        """Stop claiming; attempts in flight are cut and their deliveries given back (due
        again at once, here after a restart or on another server; a server killed instead
        leaves them to its leases). Idempotent."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._sending):
            task.cancel()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def kick(self) -> None:
        """Look for due deliveries now (an event was just written here)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            free = self._settings.webhook_concurrency - len(self._sending)
            claimed: list[Claimed] = []
            if free > 0:
                try:
                    claimed = await self.ledger.claim(free)
                except Exception:  # the database away: try again at the next poll
                    log.exception("webhooks: claiming deliveries failed")
            for one in claimed:
                task = asyncio.create_task(self._deliver(one))
                self._sending.add(task)
                task.add_done_callback(self._done)
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)  # more may be due: claim again once a slot frees
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.webhook_poll_seconds)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._wake.set()  # a slot is free; the next event of its recording may be due

    async def _deliver(self, claimed: Claimed) -> None:
        try:
            outcome = await self._attempt(claimed)
        except asyncio.CancelledError:  # stopping: due again at once, not after the lease
            with suppress(Exception):
                await asyncio.shield(self.ledger.release(claimed))
            raise
        try:
            state = await self.ledger.settle(claimed, outcome)
        except Exception:  # the lease runs out and the delivery is attempted again
            log.exception("webhooks: recording the attempt of %s failed", claimed.delivery_id)
            return
        if self._on_attempt is not None:
            self._on_attempt({"delivered": "delivered", "failed": "failed"}.get(state,
                                                                                "retried"))
        if not outcome.ok:
            log.info("webhook %s: %s attempt %d failed (%s), now %s",
                     claimed.webhook.webhook_id, claimed.event.event_id, claimed.attempt,
                     outcome.error or outcome.response_code, state)

    async def _attempt(self, claimed: Claimed) -> Outcome:
        assert self._http is not None
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            target = await resolve(claimed.webhook.url,
                                   allow_private=self._settings.webhook_allow_private)
            body = (await self._render(claimed.event)).model_dump_json()
        except TargetRefused as exc:
            return Outcome(False, None, took(), f"refused: {exc}")
        headers = {"Content-Type": "application/json",
                   **signed_headers(claimed.webhook.secret, claimed.event.event_id, body,
                                    datetime.now(UTC))}
        if target.host_header:
            headers["Host"] = target.host_header
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        try:
            async with asyncio.timeout(self._settings.webhook_timeout_seconds):
                async with self._http.stream("POST", target.request_url, content=body.encode(),
                                             headers=headers, extensions=extensions) as reply:
                    code = reply.status_code
        except TimeoutError:
            return Outcome(False, None, took(), "timed out")
        except httpx.HTTPError as exc:
            return Outcome(False, None, took(), f"{type(exc).__name__}: {exc}"[:500])
        ok = 200 <= code < 300
        return Outcome(ok, code, took(), "" if ok else f"HTTP {code}")
