"""Start / stop recording: the table's rules, the Recording rows, and finalization into the
library. The recorders themselves run on the media node (:mod:`livetape.medianode`).

Segments are registered in the database before their first byte is written, so that a
crash leaves a trail: :meth:`RecordingService.recover` finalizes whatever is on disk at
start-up and adds it to the library (recording state ``ended``, reason ``recovered``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.auth.apps import Identity
from livetape.config import Settings
from livetape.db.models import Recording, Room
from livetape.errors import Catalogue, LivetapeError
from livetape.events.payloads import recording_started
from livetape.library.files import Library
from livetape.medianode.interface import MediaNode, RecorderStart
from livetape.recording.admission import RecordingAdmission
from livetape.recording.ending import RecordingRows
from livetape.recording.listing import RecordingListing
from livetape.recording.node_events import NodeEvents
from livetape.recording.part_shipper import PartShipper
from livetape.recording.record_request import RecordRequest
from livetape.recording.recording_view import (
    RecordingDetail,
    RecordingProgress,
    RecordingStarted,
    RecordingStopped,
    RecordingView,
)
from livetape.recording.segments import Landed, SegmentLedger

log = logging.getLogger(__name__)



@dataclass
class _Active:
    recording: Recording
    finalizers: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    ending: asyncio.Task[str] | None = None


class RecordingService:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], node: MediaNode,
        library: Library, admission: RecordingAdmission, *, landed: Landed,
        on_finalized: Callable[[float], None] | None = None,
        shipper: PartShipper | None = None,
    ) -> None:
        self._settings = settings
        self.sessions = sessions
        self._sessions = sessions
        self._node = node
        self._admission = admission
        self.segments = SegmentLedger(sessions, library, landed, on_finalized, shipper)
        self.events = NodeEvents(self)  # handed to the media node when it starts
        self._listing = RecordingListing(sessions, node, self.segments)
        self._rows = RecordingRows(settings, sessions)
        self._active: dict[tuple[str, str, str, str], _Active] = {}
        # one lock per stream while requests for it are in flight (then dropped)
        self._locks: dict[tuple[str, str, str, str], tuple[asyncio.Lock, int]] = {}

    # the API's operations ----------------------------------------------------------------

    async def handle(self, who: Identity,
                     request: RecordRequest) -> RecordingStarted | RecordingStopped:
        """POST /v1/record: start or stop recording a stream, by the table's rules."""
        if request.operation == "start":
            await self._admission.check(who.app_id, request)
        user_id = who.acting_user(request.user_id, missing=Catalogue.PARSE_FAILURE)
        if "record" not in who.privileges:
            raise LivetapeError(Catalogue.NO_RECORD_PERMISSION)
        async with self._sessions() as session:
            room = await session.get(Room, (who.app_id, request.room_id))
        if room is None:
            raise LivetapeError(Catalogue.ROOM_NOT_FOUND, f"room {request.room_id!r}")
        key = (who.app_id, request.room_id, user_id, request.src_type)
        async with self.serialized(key):
            if request.operation == "start":
                if room.type == "pair":
                    raise LivetapeError(Catalogue.PAIR_ROOM)
                recording = await self._start(key, request)
                return RecordingStarted(recording_id=recording.recording_id)
            return await self._stop(key)

    @asynccontextmanager
    async def serialized(self, key: tuple[str, str, str, str]) -> AsyncIterator[None]:
        """Start/stop requests for one stream run one at a time."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _start(self, key: tuple[str, str, str, str], request: RecordRequest) -> Recording:
        """The row first (the node reports segments of it), then the node's recorder; a
        refusal by the node (no such stream, no such track) takes the row away again."""
        app_id, room_id, user_id, src_type = key
        latest = await self._latest(key)  # (this control plane's or another node's)
        running = latest if latest is not None and latest.state == "recording" else None
        if running is None and key in self._active and self._active[key].ending is None:
            del self._active[key]  # ended elsewhere (its node's control plane, a survivor)
        if running is not None:
            raise LivetapeError(Catalogue.ALREADY_RECORDING, recording_id=running.recording_id)
        recording_id = f"rec_{secrets.token_hex(8)}"
        recording = Recording(
            recording_id=recording_id, app_id=app_id, room_id=room_id, user_id=user_id,
            src_type=src_type, record_type=request.record_type, file_name=request.file_name,
            class_id=request.class_id, tags=request.tags, transcode=request.transcode,
            screenshot=request.screenshot, watermark=request.watermark, state="recording",
            work_dir=str((self._settings.recordings_dir / recording_id).resolve()), gaps=[],
        )
        async with self._sessions() as session, session.begin():
            session.add(recording)
        try:
            await self._run_recorder(key, recording, first_seq=1)
        except Exception:
            async with self._sessions() as session, session.begin():
                await session.execute(delete(Recording)
                                      .where(Recording.recording_id == recording_id))
            raise
        log.info("recording %s started: %s/%s/%s", recording_id, room_id, user_id, src_type)
        return recording

    async def _run_recorder(self, key: tuple[str, str, str, str], recording: Recording,
                            first_seq: int) -> None:
        """Start the recorder of a recording row on the node of its stream."""
        self._active[key] = _Active(recording)
        try:
            started = await self._node.start_recording(RecorderStart(
                recording_id=recording.recording_id, app_id=recording.app_id,
                room_id=recording.room_id, user_id=recording.user_id,
                src_type=recording.src_type, record_type=recording.record_type,
                work_dir=recording.work_dir, first_seq=first_seq,
            ))
        except Exception:
            del self._active[key]
            raise
        recording.node_id = started.node_id
        async with self._sessions() as session, session.begin():
            await session.execute(update(Recording)
                                  .where(Recording.recording_id == recording.recording_id)
                                  .values(node_id=started.node_id))
            await recording_started(session, recording.recording_id)  # the outbox

    async def resume(self, recording: Recording) -> bool:
        """Run a recording again that was claimed for a resume (:mod:`.resume`, holding
        :meth:`serialized` for its stream): the next file of the same recording, on the
        node of its stream. False when the stream is gone."""
        key = (recording.app_id, recording.room_id, recording.user_id, recording.src_type)
        first_seq = await self.segments.next_seq(recording.recording_id)
        try:
            await self._run_recorder(key, recording, first_seq)
        except LivetapeError as exc:
            log.warning("recording %s not resumed: %s", recording.recording_id, exc)
            return False
        log.info("recording %s resumed from segment %d", recording.recording_id, first_seq)
        return True

    async def _stop(self, key: tuple[str, str, str, str]) -> RecordingStopped:
        active = self._active.get(key)
        latest = await self._latest(key) if active is None else None
        if latest is not None and latest.state == "recording":
            # running, started through another node (or resumed there): stop it from here
            active = self._active[key] = _Active(latest)
        if active is not None:
            reason = await self.end(active, "stopped")
            recording_id = active.recording.recording_id
        else:
            if latest is None or latest.end_reason == "stopped":
                raise LivetapeError(Catalogue.NOT_RECORDING)
            recording_id, reason = latest.recording_id, latest.end_reason or "ended"
        file_ids = await self.file_ids(recording_id)
        if reason != "stopped":
            raise LivetapeError(
                Catalogue.ALREADY_ENDED, f"it ended: {reason}",
                recording_id=recording_id, file_ids=file_ids, end_reason=reason,
            )
        return RecordingStopped(recording_id=recording_id, file_ids=file_ids)

    async def _latest(self, key: tuple[str, str, str, str]) -> Recording | None:
        app_id, room_id, user_id, src_type = key
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Recording).where(
                    Recording.app_id == app_id, Recording.room_id == room_id,
                    Recording.user_id == user_id, Recording.src_type == src_type,
                ).order_by(Recording.started_at.desc()).limit(1)
            )
            return rows.first()

    # ending ------------------------------------------------------------------------------

    async def end(self, active: _Active, reason: str) -> str:
        """Stop the recorder, wait for its files, mark the recording ended. Single-flight
        (a failed attempt lets the next call try again)."""
        if active.ending is None:
            active.ending = asyncio.ensure_future(self._do_end(active, reason))
        ending = active.ending
        try:
            return await asyncio.shield(ending)
        except LivetapeError:
            if active.ending is ending:  # refused (its node or NATS away): a later stop retries
                active.ending = None
            raise

    async def _do_end(self, active: _Active, reason: str) -> str:
        recording = active.recording
        try:
            reason = await self._stop_recorder(recording, reason)
        except BaseException:
            active.ending = None
            raise
        if active.finalizers:
            await asyncio.gather(*active.finalizers.values(), return_exceptions=True)
        # what a recorder wrote and never closed (its media process crashed and was started
        # again: no recorder answered the stop) lands all the same; none after a normal stop
        await self.segments.finalize_left(recording)
        reason = await self.mark_ended(recording.recording_id, reason)
        key = (recording.app_id, recording.room_id, recording.user_id, recording.src_type)
        if self._active.get(key) is active:
            del self._active[key]
        log.info("recording %s ended (%s)", recording.recording_id, reason)
        return reason

    async def _stop_recorder(self, recording: Recording, reason: str) -> str:
        """The reason the recording ended with: the node's when the recorder was already
        ending by itself; the row's when it ended without this control plane (in a cluster,
        the node's own control plane, or a survivor of its node's death)."""
        try:
            return (await self._node.stop_recording(recording.recording_id, reason)).reason
        except LivetapeError as exc:
            if exc.kind is Catalogue.NOT_FOUND:
                log.warning("recording %s: the media node runs no recorder for it",
                            recording.recording_id)
                row = await self._row(recording.recording_id)
                return row.end_reason if row and row.state == "ended" and row.end_reason \
                    else reason
            if exc.kind not in (Catalogue.NODE_UNREACHABLE, Catalogue.NODE_TIMEOUT):
                raise
            # its node is gone: a survivor finalizes it once the node's registry entry
            # expires (LIVETAPE_NODE_DEAD_SECONDS); the answer waits for that, bounded
            ended = await self._rows.ended_elsewhere(recording.recording_id)
            if ended is None:
                raise
            return ended

    async def mark_ended(self, recording_id: str, reason: str) -> str:
        """End a running recording's row; returns the end reason as stored."""
        return await self._rows.mark_ended(recording_id, reason)

    async def _row(self, recording_id: str) -> Recording | None:
        async with self._sessions() as session:
            return await session.get(Recording, recording_id)

    def by_id(self, recording_id: str) -> _Active | None:
        return next((a for a in self._active.values()
                     if a.recording.recording_id == recording_id), None)

    async def forget_ended(self) -> None:
        """Drop what this control plane holds of recordings that ended elsewhere (their
        node's control plane, or a survivor of their node, ended them)."""
        idle = {a.recording.recording_id: k for k, a in self._active.items() if a.ending is None}
        if not idle:
            return
        async with self._sessions() as session:
            ended = list(await session.scalars(select(Recording.recording_id).where(
                Recording.recording_id.in_(list(idle)), Recording.state == "ended")))
        for recording_id in ended:
            active = self._active.get(idle[recording_id])
            if active is not None and active.ending is None:
                del self._active[idle[recording_id]]

    async def close_room(self, app_id: str, room_id: str) -> None:
        for (a, r, _, _), active in list(self._active.items()):
            if (a, r) == (app_id, room_id):
                await self.end(active, "room_closed")

    async def shutdown(self) -> None:
        """Server stopping: close every recording, keeping what was recorded."""
        await asyncio.gather(*(self.end(a, "shutdown") for a in list(self._active.values())))

    async def recover(self, also: Sequence[str] = ()) -> int:
        """Finalize recordings a crash left open (on this node, and on the media nodes
        ``also`` of this machine: LIVETAPE_MEDIA_PROCESSES). Returns how many."""
        recovered: list[str] = []
        for node_id in (self._node.node_id, *also):
            recovered += await self.segments.recover(node_id)
        for recording_id in recovered:
            await self.mark_ended(recording_id, "recovered")
        return len(recovered)

    async def file_ids(self, recording_id: str) -> list[str]:
        return await self.segments.file_ids(recording_id)

    # views -------------------------------------------------------------------------------

    async def get(self, app_id: str, recording_id: str) -> RecordingDetail:
        return await self._listing.get(app_id, recording_id)

    async def in_progress(self, app_id: str) -> list[RecordingProgress]:
        return await self._listing.in_progress(app_id)

    async def active_in_room(self, app_id: str, room_id: str) -> list[RecordingView]:
        """The room's running recordings, from the database: in a cluster, whichever node
        started them, and none that its node's control plane already ended."""
        async with self._sessions() as session:
            rows = await session.scalars(select(Recording).where(
                Recording.app_id == app_id, Recording.room_id == room_id,
                Recording.state == "recording",
            ).order_by(Recording.user_id, Recording.src_type))
            return [RecordingView.of(row) for row in rows]
