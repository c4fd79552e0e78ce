"""Counting the bytes the file server sends, per app: an ASGI middleware.

It sits in front of ``/media/<app_id>/...`` and adds up the body bytes each response hands
to the server (a partial range counts what it sent; HEAD and 304 count nothing), in memory;
``flush()`` moves the totals into the usage ledger, every ``flush_seconds`` and at stop.
A crash loses at most the last interval's count.

A response handed to nginx (``X-Accel-Redirect``, :mod:`livetape.api.accel`) or a 302 to the
object store (S3, :mod:`livetape.api.object_responses`) has no body here: it carries the bytes
nginx or the store is asked to send in :data:`ACCEL_BYTES`, which this middleware counts and
removes, so the header never leaves livetape.
"""

from __future__ import annotations

from collections import defaultdict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livetape.billing.usage import TRAFFIC, UsageLedger, today
from livetape.periodic import Periodic

PREFIX = "/media/"
# what nginx (X-Accel-Redirect) or the object store (302) sends for this answer (counted,
# removed)
ACCEL_BYTES = "x-livetape-accel-bytes"
_ACCEL_KEY = ACCEL_BYTES.encode()


class TrafficMeter:
    """Totals of bytes sent, by (app, day), waiting to be flushed to the ledger."""

    def __init__(self) -> None:
        self.pending: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._ledger: UsageLedger | None = None
        self._flusher: Periodic | None = None

    def count(self, app_id: str, sent: int) -> None:
        self.pending[(app_id, today())] += sent

    def start(self, ledger: UsageLedger, flush_seconds: float) -> None:
        self._ledger = ledger
        self._flusher = Periodic("traffic flush", flush_seconds, self.flush)
        self._flusher.start()

    async def flush(self) -> None:
        if self._ledger is None:
            return
        taken, self.pending = list(self.pending.items()), defaultdict(int)
        for index, ((app_id, day), sent) in enumerate(taken):
            try:
                await self._ledger.add(app_id, TRAFFIC, sent, day)
            except Exception:
                for key, unsent in taken[index:]:  # kept for the next flush
                    self.pending[key] += unsent
                raise

    async def stop(self) -> None:
        """Stop the flusher and flush what is left (idempotent)."""
        if self._flusher is not None:
            await self._flusher.stop()
        await self.flush()


class TrafficMiddleware:
    def __init__(self, app: ASGIApp, meter: TrafficMeter) -> None:
        self.app = app
        self.meter = meter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        app_id = path[len(PREFIX):].split("/", 1)[0]
        status = 0

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = message.get("headers", [])
                accel = [int(v) for k, v in headers if k.lower() == _ACCEL_KEY]
                if accel:
                    message = {**message, "headers": [
                        (k, v) for k, v in headers if k.lower() != _ACCEL_KEY]}
                    if status in (200, 302) and accel[0] > 0:
                        self.meter.count(app_id, accel[0])
            await send(message)
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            if body and status in (200, 206):  # sent: only media, not error bodies
                self.meter.count(app_id, len(body))

        await self.app(scope, receive, counted)
