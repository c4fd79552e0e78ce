"""Cluster-wide notices: one node announces, every other node acts at once.

One subject family, ``livetape.notice.<kind>``, core NATS (fire and forget: a node that is
away misses the notice, which is fine for what travels here, since every cache it clears
also expires by itself after ``LIVETAPE_MEDIA_LOOKUP_SECONDS``). The kinds:

- ``app_changed`` {app_id}: an app's settings or balance changed (play-URL signing, the
  rotation of its play key, suspension): forget what playback cached about it, so old signed
  URLs stop and new settings apply at once on every node;
- ``file_changed`` {file_id}: a file was modified or deleted: forget its cached status;
- ``room_closed`` {app_id, room_id}: the node holding the room's publishers ends them.

Services never see NATS: they are given :meth:`Notices.announce` (an :data:`Announce`), which
also works, doing nothing, on a single node (:func:`nowhere`). A node ignores its own notices
(it acted before announcing).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from livetape.cluster.connection import ClusterConnection

log = logging.getLogger(__name__)

SUBJECT = "livetape.notice"
KINDS = ("app_changed", "file_changed", "room_closed")

Announce = Callable[[str, dict[str, str]], None]
Handler = Callable[[dict[str, str]], Awaitable[None] | None]


def nowhere(kind: str, fields: dict[str, str]) -> None:
    """The announce hook of a single node: nobody else to tell."""


class Notices:
    def __init__(self, connection: ClusterConnection, node_id: str) -> None:
        self._connection = connection
        self._node_id = node_id
        self._handlers: dict[str, list[Handler]] = {}
        self._subscription: Subscription | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def on(self, kind: str, handler: Handler) -> None:
        """Call ``handler(fields)`` when another node announces ``kind``."""
        if kind not in KINDS:
            raise ValueError(f"unknown notice {kind!r}")
        self._handlers.setdefault(kind, []).append(handler)

    async def start(self) -> None:
        """Subscribe once connected (nats-py keeps the subscription across reconnections)."""
        self._connection.on_connect(self._subscribe)

    async def _subscribe(self) -> None:
        if self._subscription is None:
            client = self._connection.client()
            self._subscription = await client.subscribe(f"{SUBJECT}.>", cb=self._received)

    async def stop(self) -> None:
        """Unsubscribe and wait for notices being sent (idempotent)."""
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=2)
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            try:
                await subscription.unsubscribe()
            except Exception as exc:  # the connection may be gone already
                log.debug("unsubscribe from notices: %s", exc)

    def announce(self, kind: str, fields: dict[str, str]) -> None:
        """Tell every other node (returns at once; a failure is logged, never raised: the
        change itself is already done, and the others' caches expire by themselves)."""
        if kind not in KINDS:
            raise ValueError(f"unknown notice {kind!r}")
        body = json.dumps({"from": self._node_id, **fields}).encode()
        task = asyncio.get_running_loop().create_task(self._send(kind, body))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, kind: str, body: bytes) -> None:
        try:
            await self._connection.client().publish(f"{SUBJECT}.{kind}", body)
        except Exception as exc:  # not connected (30000401) or the send failed
            log.warning("notice %s not sent: %s", kind, exc)

    async def _received(self, msg: Msg) -> None:
        kind = msg.subject.removeprefix(f"{SUBJECT}.")
        try:
            fields = json.loads(msg.data)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            log.warning("unreadable notice on %s: %r", msg.subject, msg.data[:100])
            return
        if fields.pop("from", None) == self._node_id:
            return
        for handler in self._handlers.get(kind, []):
            try:
                done = handler({str(k): str(v) for k, v in fields.items()})
                if done is not None:
                    await done
            except Exception:
                log.exception("handling notice %s %s failed", kind, fields)
