"""A media node on another machine, reached over NATS: :class:`NatsMediaNode` implements
:class:`~livetape.medianode.interface.MediaNode` by sending each call as a request to the
node's :class:`~livetape.medianode.service.NodeService` and reading its reply
(:mod:`livetape.medianode.wire`).

Faults of the path are the catalogue's: no node subscribed to the subject (NATS answers "no
responders" at once): 30000207; NATS itself unreachable: 30000401 at once, the request not
sent (nats-py would queue it and send it once NATS returns: a stop acting late); no answer
within LIVETAPE_NODE_TIMEOUT_SECONDS: 30000208; a reply that does not read: 30000301-30000305.
Read-only calls (``streams``, ``recording_stats``) are tried again after a timeout, up to
LIVETAPE_NODE_READ_ATTEMPTS times; calls that change something are sent once (a start or
stop sent twice could act twice).

:meth:`NatsMediaNode.start` subscribes the control plane's events sink to the node's events
(queue group ``livetape-control``: one control plane takes each); an event is handed to the
sink once, in order, and answered only after the sink returned, so the node sends it again
if the sink failed.
"""

from __future__ import annotations

import logging
from typing import Any

from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError
from livetape.medianode import wire
from livetape.medianode.bus import (
    CONTROL_QUEUE,
    checked_node_id,
    connect,
    events_subject,
    request_subject,
)
from livetape.medianode.interface import (
    LiveStream,
    NodeTotals,
    PublishAnswer,
    PublishOffer,
    RecorderStart,
    RecorderStarted,
    RecorderStats,
    RecorderStopped,
    RecordingEvents,
    TrickleRequest,
)

log = logging.getLogger(__name__)


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, LivetapeError) and exc.kind is Catalogue.NODE_TIMEOUT


class NatsMediaNode:
    def __init__(self, settings: Settings, node_id: str, connection: Nats | None = None) -> None:
        self._settings, self._node_id = settings, checked_node_id(node_id)
        self._nats, self._owns_connection = connection, connection is None
        self._events: RecordingEvents | None = None
        self._subscription: Subscription | None = None
        self._taken: dict[str, int] = {}  # the last event taken, by the node service's run

    @property
    def node_id(self) -> str:
        return self._node_id

    async def start(self, events: RecordingEvents) -> None:
        if self._nats is None:
            self._nats = await connect(self._settings, f"livetape-control-{self._node_id}")
        self._events = events
        self._subscription = await self._nats.subscribe(
            events_subject(self._node_id), queue=CONTROL_QUEUE, cb=self._on_event)
        await self._nats.flush()

    async def stop(self) -> None:
        """Stop taking the node's events and close the connection (if this made it). The
        node itself runs on: it stops with its own process. Idempotent."""
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        if self._nats is not None and self._owns_connection:
            await self._nats.close()
            self._nats = None

    # calls -----------------------------------------------------------------------------------

    async def _call(self, name: str, request: BaseModel) -> Any:
        operation = wire.OPERATIONS[name]
        attempts = self._settings.node_read_attempts if operation.read_only else 1
        retrying = AsyncRetrying(stop=stop_after_attempt(attempts), reraise=True,
                                 retry=retry_if_exception(_timed_out))
        async for attempt in retrying:
            with attempt:
                return await self._once(operation, request.model_dump_json().encode())
        raise AssertionError("unreachable")  # reraise=True: the last error is raised

    async def _once(self, operation: wire.Operation, payload: bytes) -> Any:
        if self._nats is None:
            raise RuntimeError("the NATS media node is not started")
        node, name = self._node_id, operation.name
        if not self._nats.is_connected:  # never queue it: it would go out when NATS returns
            raise self._nats_away(node, name, "not connected")
        try:
            reply = await self._nats.request(request_subject(node, name), payload,
                                             timeout=self._settings.node_timeout_seconds)
        except NoRespondersError:
            raise LivetapeError(
                Catalogue.NODE_UNREACHABLE, f"no media node {node!r} answers {name}",
                hint=f"node {node!r} is gone or not joined to the cluster: check that it runs "
                f"with LIVETAPE_NATS_URL set, then publish the stream again") from None
        except NatsTimeout:
            raise LivetapeError(
                Catalogue.NODE_TIMEOUT, f"node {node!r} did not answer {name} within "
                f"{self._settings.node_timeout_seconds:g} s",
                hint=f"retry; if it repeats, check node {node!r}'s log and load (the wait is "
                f"LIVETAPE_NODE_TIMEOUT_SECONDS)") from None
        except Exception as exc:  # NATS itself unreachable: closed, reconnecting
            raise self._nats_away(node, name, type(exc).__name__) from exc
        return wire.read_reply(reply.data, operation, node)

    def _nats_away(self, node: str, name: str, why: str) -> LivetapeError:
        """30000401: the cluster's NATS, not the node, is what fails (nothing was sent)."""
        return LivetapeError(
            Catalogue.REGISTRY_UNREACHABLE, f"node {node!r}, {name}: NATS at "
            f"{self._settings.nats_url} is unreachable ({why})", hint="check the NATS "
            "server(s) at LIVETAPE_NATS_URL; this node reconnects by itself: retry then")

    async def publish(self, offer: PublishOffer) -> PublishAnswer:
        answer: PublishAnswer = await self._call("publish", offer)
        return answer

    async def trickle(self, request: TrickleRequest) -> int:
        added: int = await self._call("trickle", request)
        return added

    async def unpublish(self, app_id: str, room_id: str, publication_id: str,
                        user_id: str | None) -> None:
        await self._call("unpublish", wire.UnpublishRequest(
            app_id=app_id, room_id=room_id, publication_id=publication_id, user_id=user_id))

    async def close_room(self, app_id: str, room_id: str) -> None:
        await self._call("close_room", wire.RoomRequest(app_id=app_id, room_id=room_id))

    async def streams(self, app_id: str, room_id: str | None = None) -> list[LiveStream]:
        found: list[LiveStream] = await self._call(
            "streams", wire.StreamsRequest(app_id=app_id, room_id=room_id))
        return found

    async def start_recording(self, start: RecorderStart) -> RecorderStarted:
        started: RecorderStarted = await self._call("start_recording", start)
        return started

    async def stop_recording(self, recording_id: str,
                             reason: str = "stopped") -> RecorderStopped:
        stopped: RecorderStopped = await self._call(
            "stop_recording", wire.StopRequest(recording_id=recording_id, reason=reason))
        return stopped

    async def recording_stats(self, recording_id: str) -> RecorderStats | None:
        stats: RecorderStats | None = await self._call(
            "recording_stats", wire.StatsRequest(recording_id=recording_id))
        return stats

    async def totals(self) -> NodeTotals:
        """What the node took in and wrote since it started (its metrics)."""
        found: NodeTotals = await self._call("totals", wire.TotalsRequest())
        return found

    # events ----------------------------------------------------------------------------------

    async def _on_event(self, msg: Msg) -> None:
        """One event at a time (the subscription's order), answered once the sink took it."""
        try:
            event = wire.NodeEvent.model_validate_json(msg.data)
        except ValidationError as exc:
            log.error("node %s sent an event that does not read: %s", self._node_id, exc)
            await msg.respond(wire.encode(wire.error_reply(LivetapeError(
                Catalogue.INTERNAL_PACKING, f"event: {exc.errors()[0]['msg']}"))))
            return
        try:
            if self._taken.get(event.epoch, 0) < event.seq:  # else: sent again, already taken
                await self._hand_over(event)
                self._taken[event.epoch] = event.seq
            body = {"ok": None}
        except Exception as exc:
            log.exception("event %s of node %s failed; the node sends it again", event.seq,
                          self._node_id)
            error = exc if isinstance(exc, LivetapeError) else LivetapeError(
                Catalogue.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            body = wire.error_reply(error)
        await msg.respond(wire.encode(body))

    async def _hand_over(self, event: wire.NodeEvent) -> None:
        sink = self._events
        if sink is None:
            raise RuntimeError("no events sink")
        if event.kind == "recording_ended":
            await sink.recording_ended(event.recording_id, event.reason or "failed")
        elif event.kind == "segment_opened":
            await sink.segment_opened(event.recording_id, event.segment or 0, event.part or "")
        else:
            await sink.segment_closed(event.recording_id, event.segment or 0, event.part or "")
