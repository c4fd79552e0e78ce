"""Janus's plain HTTP API: one-shot requests and sessions with their long-poll event stream.

Janus answers core requests (create, attach, info, keepalive) synchronously; plugin requests
that take time come back as an ``ack`` and their result arrives later as an event on the
session's long poll (``GET /janus/<session_id>``), matched by transaction id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import httpx

logger = logging.getLogger(__name__)

VIDEOROOM_PLUGIN = "janus.plugin.videoroom"
# Janus drops a session after session_timeout (60 s by default) without any request on it.
KEEPALIVE_INTERVAL_S = 25.0
# Janus holds a long poll for up to 30 s before answering {"janus": "keepalive"}.
LONG_POLL_TIMEOUT_S = 45.0
SESSION_NOT_FOUND = 458  # Janus error code: the session timed out or was destroyed


class JanusError(RuntimeError):
    """Janus answered with an error (core ``{"janus": "error"}`` or a plugin error)."""


def new_transaction() -> str:
    """A fresh transaction id (also used as the long poll's cache-busting ``rid``)."""
    return secrets.token_hex(8)


async def post_request(
    client: httpx.AsyncClient,
    path: str,
    request: dict[str, Any],
    *,
    transaction: str | None = None,
    http_timeout: float = 10.0,
) -> dict[str, Any]:
    """POST one Janus API request; raises JanusError on ``{"janus": "error"}``."""
    body = {**request, "transaction": transaction or new_transaction()}
    resp = await client.post(path, json=body, timeout=http_timeout)
    resp.raise_for_status()
    reply: dict[str, Any] = resp.json()
    if reply.get("janus") == "error":
        err = reply.get("error", {})
        raise JanusError(f"{request['janus']}: {err.get('code')} {err.get('reason')}")
    return reply


class JanusSession:
    """One Janus API session: requests, a long-poll event dispatcher and keepalives.

    Janus answers plugin requests that take time (join, configure, leave) with an ``ack`` and
    delivers the result later as an ``event`` carrying the same transaction id on the session's
    long-poll ``GET /janus/<session_id>``; one background task reads that stream and resolves
    the matching futures, another sends keepalives so the session survives idle periods.
    """

    def __init__(self, client: httpx.AsyncClient, session_id: int) -> None:
        self.client = client
        self.session_id = session_id
        self.events: list[dict[str, Any]] = []  # every event seen, for debugging
        self.webrtc_up = asyncio.Event()
        self.hangup = asyncio.Event()
        # Plugin requests waiting for their asynchronous event, by transaction id.
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @classmethod
    async def create(cls, client: httpx.AsyncClient) -> JanusSession:
        """Create a Janus session and start its poll and keepalive tasks."""
        reply = await post_request(client, "/janus", {"janus": "create"})
        session = cls(client, int(reply["data"]["id"]))
        session._tasks = [
            asyncio.create_task(session._poll_loop(), name=f"janus-poll-{session.session_id}"),
            asyncio.create_task(session._keepalive_loop(), name=f"janus-ka-{session.session_id}"),
        ]
        return session

    @property
    def path(self) -> str:
        """URL path of this session."""
        return f"/janus/{self.session_id}"

    async def attach(self, plugin: str = VIDEOROOM_PLUGIN) -> int:
        """Attach a plugin handle; returns the handle id."""
        reply = await post_request(self.client, self.path, {"janus": "attach", "plugin": plugin})
        return int(reply["data"]["id"])

    async def message(
        self,
        handle_id: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        event_timeout: float = 20.0,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a plugin message; returns (plugin data, jsep) from the sync reply or the event.

        Raises JanusError on a core or plugin error.
        """
        transaction = new_transaction()
        loop = asyncio.get_running_loop()
        # Register before sending: the event can arrive on the long poll before the POST returns.
        pending: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending[transaction] = pending
        try:
            request: dict[str, Any] = {"janus": "message", "body": body}
            if jsep is not None:
                request["jsep"] = jsep
            reply = await post_request(
                self.client, f"{self.path}/{handle_id}", request, transaction=transaction
            )
            if reply["janus"] == "success":  # synchronous plugin request (create, exists, ...)
                event = reply
            else:  # "ack": the answer comes as an event
                event = await asyncio.wait_for(pending, event_timeout)
        finally:
            self._pending.pop(transaction, None)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data or "error_code" in data:
            raise JanusError(f"{body.get('request')}: {data.get('error_code')} {data.get('error')}")
        return data, event.get("jsep")

    async def _poll_loop(self) -> None:
        """Read the session's event stream forever and dispatch events by transaction."""
        backoff = 0.1
        while not self._closed:
            try:
                resp = await self.client.get(
                    self.path,
                    params={"maxev": 10, "rid": new_transaction()},
                    timeout=LONG_POLL_TIMEOUT_S,
                )
                resp.raise_for_status()
                payload = resp.json()
                backoff = 0.1
            except (httpx.HTTPError, ValueError) as exc:
                if self._closed:
                    return
                logger.warning("janus long poll on %s failed: %s", self.session_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            for event in payload if isinstance(payload, list) else [payload]:
                self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "keepalive":
            return
        self.events.append(event)
        if kind == "webrtcup":
            self.webrtc_up.set()
        elif kind == "hangup":
            self.hangup.set()
        elif kind == "error" and event.get("error", {}).get("code") == SESSION_NOT_FOUND:
            self._closed = True  # nothing more will come: stop polling
        transaction = event.get("transaction")
        if kind == "event" and transaction in self._pending:
            future = self._pending[transaction]
            if not future.done():
                future.set_result(event)

    async def _keepalive_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(KEEPALIVE_INTERVAL_S)
            try:
                await post_request(self.client, self.path, {"janus": "keepalive"})
            except (httpx.HTTPError, JanusError) as exc:
                if not self._closed:
                    logger.warning("janus keepalive on %s failed: %s", self.session_id, exc)

    async def destroy(self) -> None:
        """Destroy the session (hangs up and detaches its handles); idempotent."""
        if self._closed and not self._tasks:
            return
        self._closed = True
        with contextlib.suppress(httpx.HTTPError, JanusError):
            await post_request(self.client, self.path, {"janus": "destroy"})
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
