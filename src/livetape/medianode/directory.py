"""The cluster's media nodes seen as one: :class:`NodeDirectory` is the
:class:`~livetape.medianode.interface.MediaNode` a control plane talks to in a cluster, and
sends each call to the node it concerns, over NATS (:class:`NatsMediaNode`).

- ``publish`` places a new publisher (:func:`placement`): among the live nodes of the
  registry, the least loaded (live publications against the node's own limit, then CPU);
  a node at its limit takes none. A node that refuses anyway (its entry was a heartbeat old),
  is gone or does not answer passes the offer to the next one; none left: 1003 (503). The
  app's, the user's and the room's limits are the cluster's, not a node's: the chosen node
  takes the publication's slot among every node's (:mod:`livetape.cluster.slots`), and its
  refusal is the answer (no other node would take it either).
- A publication's id, as the API shows it, is ``<node_id>.<id on the node>``: PATCH and
  DELETE reach the right node whichever node they reach, with no lookup.
- A stream (app, room, user, source) is found by asking every live node for the room's
  streams; ``streams`` merges their answers (a node that does not answer is left out, and
  logged).
- A recorder is on the node that answered its start (remembered here); one this process did
  not start is looked for on every node.

The node's own recordings' events go to this node's control plane only: the directory starts
the client of its own node with the events sink, and the clients of the other nodes without.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from nats.aio.client import Client as Nats

from livetape.cluster.registry import NodeEntry
from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError
from livetape.medianode.interface import (
    LiveStream,
    PublishAnswer,
    PublishOffer,
    RecorderStart,
    RecorderStarted,
    RecorderStats,
    RecorderStopped,
    RecordingEvents,
    TrickleRequest,
)
from livetape.medianode.remote import NatsMediaNode

log = logging.getLogger(__name__)

SEPARATOR = "."  # node ids and the nodes' own publication ids never hold one
T = TypeVar("T")
_PASS_ON = (Catalogue.SERVER_FULL, Catalogue.NODE_UNREACHABLE, Catalogue.NODE_TIMEOUT)


def placement(entries: Sequence[NodeEntry],
              pending: Mapping[str, int] | None = None) -> list[NodeEntry]:
    """The nodes that may take a new publisher, best first: below their limit, the least
    loaded (publications, plus ``pending`` ones placed since the node's entry was written,
    over the node's limit), then the least CPU, then by id."""
    pending = pending or {}

    def load(e: NodeEntry) -> int:
        return e.publications + pending.get(e.node_id, 0)

    open_nodes = [e for e in entries if load(e) < e.max_publications]
    return sorted(open_nodes, key=lambda e: (load(e) / e.max_publications, e.cpu, e.node_id))


def _node_refusal(error: LivetapeError) -> bool:
    """A refusal of the node itself (its own limit, gone, slow), which another node may not
    give; not one of the cluster's limits (the app's, the user's)."""
    return error.extra.get("limit") in (None, "LIVETAPE_MAX_PUBLICATIONS")


def split_publication(publication_id: str) -> tuple[str, str]:
    """``node.id`` -> (node, id); NOT_FOUND for an id no node gave out."""
    node_id, sep, local = publication_id.partition(SEPARATOR)
    if not sep or not node_id or not local:
        raise LivetapeError(Catalogue.NOT_FOUND, f"no WHIP session {publication_id!r}")
    return node_id, local


class NodeDirectory:
    def __init__(self, settings: Settings, own_node_id: str, connection: Callable[[], Nats],
                 nodes: Callable[[], Awaitable[list[NodeEntry]]]) -> None:
        """``connection``: the node's NATS client now (raising 30000401 while there is none);
        ``nodes``: the registry's live nodes."""
        self._settings, self._own, self._connection = settings, own_node_id, connection
        self._nodes = nodes
        self._clients: dict[str, NatsMediaNode] = {}
        self._recorders: dict[str, str] = {}  # recording id -> node id
        # publishers this process placed, by node and time: a burst of offers arrives
        # faster than the nodes' heartbeats, so the registry alone would pile them on one
        self._placed: list[tuple[str, datetime]] = []

    @property
    def node_id(self) -> str:
        return self._own

    def client(self, node_id: str) -> NatsMediaNode:
        if node_id not in self._clients:
            self._clients[node_id] = NatsMediaNode(self._settings, node_id, self._connection())
        return self._clients[node_id]

    async def start(self, events: RecordingEvents) -> None:
        """Take this node's recordings' events (and no other node's)."""
        await self.client(self._own).start(events)

    async def stop(self) -> None:
        for client in self._clients.values():
            await client.stop()
        self._clients.clear()

    async def answers(self, node_id: str) -> bool:
        """Does ``node_id`` answer a call now (a node missing from the registry may only
        have missed heartbeats)? Raises 30000401 when NATS itself is away."""
        try:
            await self.client(node_id).totals()
        except LivetapeError as error:
            if error.kind in (Catalogue.NODE_UNREACHABLE, Catalogue.NODE_TIMEOUT):
                return False
            if error.kind is Catalogue.REGISTRY_UNREACHABLE:
                raise
        return True  # it answered (an error reply is an answer too)

    # publications ----------------------------------------------------------------------------

    async def publish(self, offer: PublishOffer) -> PublishAnswer:
        live = await self.streams(offer.app_id, offer.room_id)
        if any((s.user_id, s.src_type) == (offer.user_id, offer.src_type) for s in live):
            raise LivetapeError(Catalogue.CONFLICT,
                                f"{offer.user_id!r} already publishes {offer.src_type}")
        members = {s.user_id for s in live}
        if offer.user_id not in members and len(members) >= offer.member_limit:
            raise LivetapeError(Catalogue.CONFLICT,
                                f"the room is full ({offer.member_limit} members)")
        refusals: list[str] = []
        entries = await self._nodes()
        for entry in placement(entries, self._pending(entries)):
            reserved = (entry.node_id, datetime.now(UTC))  # before the await: concurrent
            self._placed.append(reserved)  # offers see it and go elsewhere
            try:
                answer = await self.client(entry.node_id).publish(offer)
            except BaseException as exc:
                with contextlib.suppress(ValueError):
                    self._placed.remove(reserved)
                if (not isinstance(exc, LivetapeError) or exc.kind not in _PASS_ON
                        or not _node_refusal(exc)):
                    raise
                log.info("node %s refused a publisher (%s); trying the next", entry.node_id,
                         exc.detail)
                refusals.append(f"{entry.node_id}: {exc.kind.name}")
                continue
            log.info("publisher %s/%s/%s placed on node %s", offer.room_id, offer.user_id,
                     offer.src_type, entry.node_id)
            return answer.model_copy(update={
                "publication_id": f"{entry.node_id}{SEPARATOR}{answer.publication_id}"})
        tried = f" (tried {', '.join(refusals)})" if refusals else ""
        raise LivetapeError(
            Catalogue.SERVER_FULL, f"every node of the cluster is at its limit{tried}",
            hint="retry later, end a stream (DELETE its WHIP session) or add a node; each "
            "node's limit is its LIVETAPE_MAX_PUBLICATIONS")

    def _pending(self, entries: Sequence[NodeEntry]) -> dict[str, int]:
        """Publishers placed on each node after its entry was written (not in it yet)."""
        seen = {e.node_id: e.seen_at for e in entries}
        oldest = min(seen.values(), default=datetime.now(UTC))
        self._placed = [(n, at) for n, at in self._placed if at > oldest]
        pending: dict[str, int] = {}
        for node_id, at in self._placed:
            if node_id in seen and at > seen[node_id]:
                pending[node_id] = pending.get(node_id, 0) + 1
        return pending

    async def trickle(self, request: TrickleRequest) -> int:
        node_id, local = split_publication(request.publication_id)
        return await self.client(node_id).trickle(
            request.model_copy(update={"publication_id": local}))

    async def unpublish(self, app_id: str, room_id: str, publication_id: str,
                        user_id: str | None) -> None:
        node_id, local = split_publication(publication_id)
        await self.client(node_id).unpublish(app_id, room_id, local, user_id)

    async def close_room(self, app_id: str, room_id: str) -> None:
        await self._each("close_room", lambda c: c.close_room(app_id, room_id))

    async def streams(self, app_id: str, room_id: str | None = None) -> list[LiveStream]:
        found: list[LiveStream] = []
        answers = await self._each("streams", lambda c: c.streams(app_id, room_id))
        for node_id, streams in answers.items():
            found += [s.model_copy(update={
                "publication_id": f"{node_id}{SEPARATOR}{s.publication_id}"}) for s in streams]
        found.sort(key=lambda s: (s.room_id, s.user_id, s.src_type))
        return found

    # recorders -------------------------------------------------------------------------------

    async def start_recording(self, start: RecorderStart) -> RecorderStarted:
        failures: dict[str, LivetapeError] = {}
        answers = await self._each("streams", lambda c: c.streams(start.app_id, start.room_id),
                                   failures)
        for node_id, streams in answers.items():
            if any((s.user_id, s.src_type) == (start.user_id, start.src_type) for s in streams):
                started = await self.client(node_id).start_recording(start)
                self._recorders[start.recording_id] = started.node_id
                return started
        if failures:  # the stream may be on a node that does not answer: say which
            raise next(iter(failures.values()))
        raise LivetapeError(Catalogue.USER_NOT_IN_ROOM,
                            f"user {start.user_id!r} publishes no {start.src_type} stream on "
                            f"any node of the cluster")

    async def stop_recording(self, recording_id: str,
                             reason: str = "stopped") -> RecorderStopped:
        node_id = await self._holder(recording_id)
        if node_id is None:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no recorder {recording_id!r} on any node")
        stopped = await self.client(node_id).stop_recording(recording_id, reason)
        self._recorders.pop(recording_id, None)
        return stopped

    async def recording_stats(self, recording_id: str) -> RecorderStats | None:
        node_id = await self._holder(recording_id)
        return None if node_id is None else await self.client(node_id).recording_stats(
            recording_id)

    async def _holder(self, recording_id: str) -> str | None:
        if recording_id in self._recorders:
            return self._recorders[recording_id]
        answers = await self._each("recording_stats", lambda c: c.recording_stats(recording_id))
        for node_id, stats in answers.items():
            if stats is not None:
                self._recorders[recording_id] = node_id
                return node_id
        return None

    # every node ------------------------------------------------------------------------------

    async def _each(self, what: str, call: Callable[[NatsMediaNode], Awaitable[T]],
                    failures: dict[str, LivetapeError] | None = None) -> dict[str, T]:
        """``call`` on every live node at once: the answers by node; a node that fails is
        left out (logged, and put in ``failures``): it holds nothing it can still serve."""
        node_ids = [entry.node_id for entry in await self._nodes()]
        results = await asyncio.gather(*(call(self.client(n)) for n in node_ids),
                                       return_exceptions=True)
        answers: dict[str, T] = {}
        for node_id, result in zip(node_ids, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, LivetapeError):
                    raise result
                log.warning("node %s left out of %s: %s", node_id, what, result.detail)
                if failures is not None:
                    failures[node_id] = result
            else:
                answers[node_id] = result
        return answers
