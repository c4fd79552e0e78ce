"""A node's recording events on their way to the control plane, at least once and in order.

The recorders hand events to :class:`EventOutbox` without waiting (a control plane away
never stalls a recording); one sender delivers them one at a time, each as a NATS request
to ``livetape.events.<node_id>``, and sends the next only once a control plane answered
``{"ok": null}``. No answer, no responders or a refusal: the same event is sent again after a
back-off, for as long as the node runs, so events survive a control plane's restart. Core NATS
suffices: the events describe files on this node's disk, so keeping them anywhere that outlives
the node (JetStream) would keep nothing usable. An event sent again after a lost answer
reaches the control plane twice, with the same ``(epoch, seq)``: the receiver drops it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter

from nats.aio.client import Client as Nats
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError
from livetape.medianode.bus import events_subject
from livetape.medianode.wire import OPERATIONS, NodeEvent, Operation, read_reply

log = logging.getLogger(__name__)

_ACK = Operation("event", NodeEvent, OPERATIONS["unpublish"].answer)  # answered with null


class _NotDelivered(Exception):
    pass


class EventOutbox:
    """The :class:`~livetape.medianode.interface.RecordingEvents` a served node reports to."""

    def __init__(self, connection: Nats, node_id: str, settings: Settings) -> None:
        self._nats, self._node_id, self._settings = connection, node_id, settings
        self._epoch = uuid.uuid4().hex
        self._seq = 0
        self._queue: asyncio.Queue[NodeEvent] = asyncio.Queue()
        self._pending: Counter[str] = Counter()
        self._changed = asyncio.Condition()
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all())

    async def stop(self) -> None:
        """Deliver what is queued (for up to LIVETAPE_NODE_TIMEOUT_SECONDS), then give up."""
        if self._sender is None:
            return
        try:
            async with asyncio.timeout(self._settings.node_timeout_seconds):
                await self._queue.join()
        except TimeoutError:
            log.error("node %s stops with %d event(s) not delivered", self._node_id,
                      self._queue.qsize())
        self._sender.cancel()
        await asyncio.gather(self._sender, return_exceptions=True)
        self._sender = None

    async def delivered(self, recording_id: str) -> None:
        """Until every event of the recording queued so far has reached a control plane."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._pending[recording_id] == 0)

    # RecordingEvents -------------------------------------------------------------------------

    async def segment_opened(self, recording_id: str, seq: int, part: str) -> None:
        self._put("segment_opened", recording_id, segment=seq, part=part)

    async def segment_closed(self, recording_id: str, seq: int, part: str) -> None:
        self._put("segment_closed", recording_id, segment=seq, part=part)

    async def recording_ended(self, recording_id: str, reason: str) -> None:
        self._put("recording_ended", recording_id, reason=reason)

    def _put(self, kind: str, recording_id: str, **fields: object) -> None:
        self._seq += 1
        self._pending[recording_id] += 1
        self._queue.put_nowait(NodeEvent.model_validate(
            {"epoch": self._epoch, "seq": self._seq, "kind": kind,
             "recording_id": recording_id, **fields}))

    # sending ---------------------------------------------------------------------------------

    async def _send_all(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._deliver(event)
            finally:
                self._queue.task_done()
                async with self._changed:
                    self._pending[event.recording_id] -= 1
                    if not self._pending[event.recording_id]:
                        del self._pending[event.recording_id]
                    self._changed.notify_all()

    async def _deliver(self, event: NodeEvent) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_NotDelivered), reraise=True,
            wait=wait_exponential(multiplier=0.05, max=self._settings.node_heartbeat_seconds))
        async for attempt in retrying:
            with attempt:
                await self._send(event)

    async def _send(self, event: NodeEvent) -> None:
        subject = events_subject(self._node_id)
        try:
            reply = await self._nats.request(subject, event.model_dump_json().encode(),
                                             timeout=self._settings.node_timeout_seconds)
            read_reply(reply.data, _ACK, f"control plane for {self._node_id}")
        except LivetapeError as exc:
            if exc.kind is Catalogue.INTERNAL_PACKING:  # it can never take this one
                log.error("event %s of node %s refused for good: %s", event.seq,
                          self._node_id, exc)
                return
            log.warning("event %s of node %s not taken, sent again: %s", event.seq,
                        self._node_id, exc)
            raise _NotDelivered from exc
        except Exception as exc:  # no responders, a timeout, NATS reconnecting
            log.warning("event %s of node %s not delivered (%s), sent again", event.seq,
                        self._node_id, type(exc).__name__)
            raise _NotDelivered from exc
