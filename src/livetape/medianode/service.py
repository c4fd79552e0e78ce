"""A media node served over NATS: :class:`NodeService` answers the calls a control plane's
:class:`~livetape.medianode.remote.NatsMediaNode` sends to ``livetape.node.<node_id>.*``
with the node in this process, and reports its recordings' events through an
:class:`~livetape.medianode.outbox.EventOutbox`.

Each request is served in its own task (a slow publish never holds up a stop). A request the
node cannot read answers 30000201, an operation it does not know 30000414, a refusal the
node's own catalogue error, a fault of its own 1500; ``stop_recording`` answers once every
event of the recording reached a control plane, and so do ``unpublish`` and ``close_room`` for
the recordings they end.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError
from livetape.medianode import wire
from livetape.medianode.bus import connect, requests_of
from livetape.medianode.faults import Fault
from livetape.medianode.interface import MediaNode
from livetape.medianode.outbox import EventOutbox

log = logging.getLogger(__name__)


class NodeService:
    def __init__(self, node: MediaNode, settings: Settings,
                 connection: Nats | None = None) -> None:
        self._node, self._settings = node, settings
        self._nats, self._owns_connection = connection, connection is None
        self._fault = Fault(settings.test_node_fault)
        self._outbox: EventOutbox | None = None
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def node_id(self) -> str:
        return self._node.node_id

    async def start(self) -> None:
        if self._nats is None:
            self._nats = await connect(self._settings, f"livetape-node-{self.node_id}")
        self._outbox = EventOutbox(self._nats, self.node_id, self._settings)
        self._outbox.start()
        await self._node.start(self._outbox)
        self._subscription = await self._nats.subscribe(requests_of(self.node_id),
                                                        cb=self._on_request)
        await self._nats.flush()  # subscribed at the server before start returns
        log.info("media node %s serves on %s", self.node_id, requests_of(self.node_id))

    async def stop(self) -> None:
        """Stop answering, end the node's publications (their events are delivered while
        LIVETAPE_NODE_TIMEOUT_SECONDS allows) and close the connection. Idempotent."""
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._node.stop()
        if self._outbox is not None:
            await self._outbox.stop()
            self._outbox = None
        if self._nats is not None and self._owns_connection:
            await self._nats.close()
            self._nats = None

    async def _on_request(self, msg: Msg) -> None:
        task = asyncio.create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, msg: Msg) -> None:
        operation = msg.subject.rsplit(".", 1)[-1]
        if self._fault.hangs:
            return
        body = await self._answer(operation, msg.data)
        if msg.reply:
            await msg.respond(self._fault.reply(body, wire.encode(body)))

    async def _answer(self, name: str, data: bytes) -> dict[str, Any]:
        operation = wire.OPERATIONS.get(name)
        if operation is None or self._fault.forgets_operations:
            unknown = Catalogue.UNKNOWN_NODE_OPERATION
            return wire.error_reply(LivetapeError(
                unknown, f"node {self.node_id!r} has no operation {name!r}",
                hint=f"node {self.node_id!r}: {unknown.hint}"))
        try:
            request = operation.request.model_validate_json(data)
        except ValidationError as exc:
            return wire.error_reply(LivetapeError(
                Catalogue.INTERNAL_PACKING,
                f"node {self.node_id!r} cannot read the {name} request: {exc.errors()[0]['msg']}"))
        try:
            return wire.ok_reply(operation, await self._call(name, request))
        except LivetapeError as exc:
            return wire.error_reply(exc)
        except Exception as exc:
            log.exception("node %s failed on %s", self.node_id, name)
            return wire.error_reply(LivetapeError(
                Catalogue.INTERNAL_ERROR, f"node {self.node_id!r}, {name}: "
                f"{type(exc).__name__}: {exc}"))

    async def _call(self, name: str, request: Any) -> Any:
        node = self._node
        match name:
            case "publish":
                return await node.publish(request)
            case "trickle":
                return await node.trickle(request)
            case "unpublish":
                ending = await self._recordings(request.app_id, request.room_id,
                                                request.publication_id)
                await node.unpublish(request.app_id, request.room_id,
                                     request.publication_id, request.user_id)
                return await self._delivered(ending)
            case "close_room":
                ending = await self._recordings(request.app_id, request.room_id)
                await node.close_room(request.app_id, request.room_id)
                return await self._delivered(ending)
            case "streams":
                return await node.streams(request.app_id, request.room_id)
            case "start_recording":  # the files go to this node's disk, whoever asks
                work_dir = self._settings.recordings_dir / request.recording_id
                return await node.start_recording(
                    request.model_copy(update={"work_dir": str(work_dir.resolve())}))
            case "stop_recording":
                stopped = await node.stop_recording(request.recording_id, request.reason)
                if self._outbox is not None:
                    await self._outbox.delivered(request.recording_id)
                return stopped
            case "recording_stats":
                return await node.recording_stats(request.recording_id)
            case "totals":  # the metrics of a media process (served by its server's /metrics)
                totals = getattr(node, "totals", None)  # the in-process node has them
                if totals is None:
                    raise LivetapeError(Catalogue.UNKNOWN_NODE_OPERATION, "totals")
                return await totals()
        raise AssertionError(name)  # every name of wire.OPERATIONS is matched above

    async def _recordings(self, app_id: str, room_id: str,
                          publication_id: str | None = None) -> list[str]:
        """The recorders of the room's streams (of one publication): those an unpublish or a
        closed room ends."""
        return [rid for stream in await self._node.streams(app_id, room_id)
                if publication_id in (None, stream.publication_id)
                for rid in stream.recording_ids]

    async def _delivered(self, recording_ids: list[str]) -> None:
        """Until the control plane took the events of the recordings a call ended, so the
        caller's next read (the room, the recording) sees them ended, as on a single node."""
        if self._outbox is not None:
            for recording_id in recording_ids:
                await self._outbox.delivered(recording_id)
