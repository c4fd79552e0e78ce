"""A survivor finalizes a dead node's recordings (a cluster only).

Every ``LIVETAPE_NODE_HEARTBEAT_SECONDS`` each node reads the registry: a recording still
``recording`` in the database whose media node has no entry there (it stopped heartbeating
for ``LIVETAPE_NODE_DEAD_SECONDS``) lost its node. One survivor claims it, with a conditional
UPDATE (its ``node_id`` becomes the survivor's, its ``end_reason`` ``node_lost``: only one
UPDATE can match), rebuilds each segment still ``writing`` from the chunks that reached the
shared storage (:mod:`.part_shipper`), finalizes it into the library, and ends the recording
(``node_lost``, resumable for ``LIVETAPE_RESUME_SECONDS``). A survivor that dies while reaping
leaves the claim under its own id: another one takes it over the same way.

A node missing from the registry is asked directly before it is taken for dead (one call over
NATS, ``LIVETAPE_NODE_TIMEOUT_SECONDS`` at most): a node that answers only missed its
heartbeats (a starved host, a slow NATS) and keeps its recordings; "no responders" or no
answer in time is a death.

Nothing is reaped while the registry cannot be read, nor until it has been read without a
break for ``LIVETAPE_NODE_DEAD_SECONDS`` since this node (re)connected: a NATS server that
restarts comes back with an empty registry, and the live nodes need a heartbeat to be listed
again. NATS being away is not a node's death.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.config import Settings
from livetape.db.models import Recording
from livetape.periodic import Periodic
from livetape.recording.recording_service import RecordingService

log = logging.getLogger(__name__)

LiveNodes = Callable[[], Awaitable[list[str]]]  # the ids in the registry now (or raises)
Answers = Callable[[str], Awaitable[bool]]  # does the node answer a call (raises: NATS away)


class NodeReaper:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 service: RecordingService, own_node_id: str, live_nodes: LiveNodes,
                 answers: Answers | None = None) -> None:
        self._settings, self._sessions, self._service = settings, sessions, service
        self._own, self._live_nodes, self._answers = own_node_id, live_nodes, answers
        self._late: set[str] = set()  # nodes missing from the registry that still answer
        self._steady_since: float | None = None  # the registry read without a break since
        self._unreadable = False
        self._periodic = Periodic("node reaper", settings.node_heartbeat_seconds, self.sweep)
        self.reaped = 0

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def reconnected(self) -> None:
        """NATS (re)connected: the registry may be a new, empty one; wait before trusting
        an absence (the connection's on_connect hook)."""
        self._steady_since = None

    async def sweep(self) -> None:
        """One look at the registry; reap the recordings of the nodes missing from it."""
        try:
            live = set(await self._live_nodes())
        except Exception as exc:
            if not self._unreadable:
                log.warning("the registry cannot be read (%s): no node is taken for dead "
                            "until it can", exc)
            self._unreadable, self._steady_since = True, None
            return
        self._unreadable = False
        now = time.monotonic()
        if self._steady_since is None:
            self._steady_since = now
        steady = now - self._steady_since >= self._settings.node_dead_seconds
        live.add(self._own)
        async with self._sessions() as session:
            rows = (await session.execute(
                select(Recording.recording_id, Recording.node_id, Recording.end_reason)
                .where(Recording.state == "recording", Recording.node_id.is_not(None))
                .order_by(Recording.started_at))).all()
        verdicts: dict[str, bool] = {}  # node -> dead, asked once a sweep
        for recording_id, node_id, end_reason in rows:
            if node_id is None:
                continue
            if node_id == self._own and end_reason == "node_lost":
                await self.reap(recording_id, node_id)  # a claim of this node's before a crash
            elif node_id not in live and steady:
                if node_id not in verdicts:
                    verdicts[node_id] = await self._dead(node_id)
                if verdicts[node_id]:
                    await self.reap(recording_id, node_id)
        self._late &= {node for node, dead in verdicts.items() if not dead}
        await self._service.forget_ended()

    async def _dead(self, node_id: str) -> bool:
        """A node missing from the registry: dead unless it answers a direct call."""
        if self._answers is None:
            return True
        try:
            alive = await self._answers(node_id)
        except Exception as exc:  # NATS itself failing: nobody is taken for dead now
            log.warning("node %s is missing from the registry and cannot be asked (%s): "
                        "not taken for dead yet", node_id, exc)
            return False
        if alive and node_id not in self._late:
            self._late.add(node_id)
            log.warning("node %s missed its heartbeats for %g s but answers: its recordings "
                        "stay with it", node_id, self._settings.node_dead_seconds)
        return not alive

    async def reap(self, recording_id: str, dead_node: str) -> bool:
        """Claim the recording from ``dead_node``, finalize what reached the shared storage,
        end it (``node_lost``). False when another node claimed it first."""
        unclaimed = or_(Recording.end_reason.is_(None), Recording.end_reason == "node_lost")
        async with self._sessions() as session, session.begin():
            claimed = await session.execute(
                update(Recording).where(Recording.recording_id == recording_id,
                                        Recording.state == "recording",
                                        Recording.node_id == dead_node, unclaimed)
                .values(node_id=self._own, end_reason="node_lost"))
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return False
        async with self._sessions() as session:
            recording = await session.get(Recording, recording_id)
        assert recording is not None
        started = time.monotonic()
        segments = await self._service.segments.writing(recording_id)
        scratch = self._settings.recordings_dir / "lost"
        for seq in segments:
            await self._service.segments.finalize_lost(recording, seq, scratch)
        # each landed segment's chunks are deleted by the ledger
        await self._service.mark_ended(recording_id, "node_lost")
        self.reaped += 1
        log.warning("recording %s: node %s is gone; finalized by %s from the shared storage "
                    "(%d segment(s), %.1f s)", recording_id, dead_node, self._own,
                    len(segments), time.monotonic() - started)
        return True
