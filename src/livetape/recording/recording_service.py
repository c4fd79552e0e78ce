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
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.auth.apps import Identity
from livetape.config import Settings
from livetape.db.models import Recording, Room, utcnow
from livetape.errors import Catalogue, LivetapeError
from livetape.library.files import Library
from livetape.medianode.interface import MediaNode, RecorderStart
from livetape.recording.admission import RecordingAdmission
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


class _NodeEvents:
    """What the media node reports (:class:`livetape.medianode.interface.RecordingEvents`):
    segments go to the ledger, recordings that ended by themselves are marked ended."""

    def __init__(self, service: RecordingService) -> None:
        self._service = service

    async def segment_opened(self, recording_id: str, seq: int, part: str) -> None:
        active = self._service._by_id(recording_id)
        recording = active.recording if active else await self._service._running(recording_id)
        if recording is None:
            log.warning("recording %s: segment %d opened after its end", recording_id, seq)
            return
        await self._service.segments.opened(recording, seq, Path(part))

    async def segment_closed(self, recording_id: str, seq: int, part: str) -> None:
        active = self._service._by_id(recording_id)
        if active is None:
            recording = await self._service._running(recording_id)
            if recording is None:
                log.warning("recording %s: segment %d closed after its end", recording_id, seq)
                return
            # started by another node's control plane: its files are on this node's disk,
            # so they land here, before the event is answered (the node answers a stop only
            # once every event of the recording was, so the stop's answer lists them)
            await self._service.segments.finalize(recording, seq, Path(part))
            return
        # finalizing (remux, probe, store) runs beside the recording; its end waits for it
        finalize = self._service.segments.finalize(active.recording, seq, Path(part))
        active.finalizers[seq] = asyncio.create_task(finalize)

    async def recording_ended(self, recording_id: str, reason: str) -> None:
        active = self._service._by_id(recording_id)
        if active is not None:
            await self._service._end(active, reason)
        elif await self._service._running(recording_id) is not None:
            await self._service._mark_ended(recording_id, reason)  # another node started it


class RecordingService:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], node: MediaNode,
        library: Library, admission: RecordingAdmission, *, landed: Landed,
        on_finalized: Callable[[float], None] | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._node = node
        self._admission = admission
        self.segments = SegmentLedger(sessions, library, landed, on_finalized)
        self.events = _NodeEvents(self)  # handed to the media node when it starts
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
        async with self._serialized(key):
            if request.operation == "start":
                if room.type == "pair":
                    raise LivetapeError(Catalogue.PAIR_ROOM)
                recording = await self._start(key, request)
                return RecordingStarted(recording_id=recording.recording_id)
            return await self._stop(key)

    @asynccontextmanager
    async def _serialized(self, key: tuple[str, str, str, str]) -> AsyncIterator[None]:
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
        if key in self._active:
            raise LivetapeError(
                Catalogue.ALREADY_RECORDING,
                recording_id=self._active[key].recording.recording_id,
            )
        recording_id = f"rec_{secrets.token_hex(8)}"
        recording = Recording(
            recording_id=recording_id, app_id=app_id, room_id=room_id, user_id=user_id,
            src_type=src_type, record_type=request.record_type, file_name=request.file_name,
            class_id=request.class_id, tags=request.tags, transcode=request.transcode,
            screenshot=request.screenshot, watermark=request.watermark, state="recording",
            work_dir=str((self._settings.recordings_dir / recording_id).resolve()),
        )
        async with self._sessions() as session, session.begin():
            session.add(recording)
        self._active[key] = _Active(recording)
        try:
            started = await self._node.start_recording(RecorderStart(
                recording_id=recording_id, app_id=app_id, room_id=room_id, user_id=user_id,
                src_type=src_type, record_type=request.record_type, work_dir=recording.work_dir,
            ))
            async with self._sessions() as session, session.begin():
                await session.execute(update(Recording)
                                      .where(Recording.recording_id == recording_id)
                                      .values(node_id=started.node_id))
        except Exception:
            del self._active[key]
            async with self._sessions() as session, session.begin():
                await session.execute(delete(Recording)
                                      .where(Recording.recording_id == recording_id))
            raise
        log.info("recording %s started: %s/%s/%s", recording_id, room_id, user_id, src_type)
        return recording

    async def _stop(self, key: tuple[str, str, str, str]) -> RecordingStopped:
        active = self._active.get(key)
        if active is not None:
            reason = await self._end(active, "stopped")
            recording_id = active.recording.recording_id
        else:
            latest = await self._latest(key)
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

    async def _end(self, active: _Active, reason: str) -> str:
        """Stop the recorder, wait for its files, mark the recording ended. Single-flight."""
        if active.ending is None:
            active.ending = asyncio.ensure_future(self._do_end(active, reason))
        return await asyncio.shield(active.ending)

    async def _do_end(self, active: _Active, reason: str) -> str:
        recording = active.recording
        gone = False  # no recorder answered for it (its media process crashed)
        try:
            # the node's reason wins when the recorder was already ending by itself
            reason = (await self._node.stop_recording(recording.recording_id, reason)).reason
        except LivetapeError as exc:
            if exc.kind is not Catalogue.NOT_FOUND:
                raise
            log.warning("recording %s: the media node runs no recorder for it",
                        recording.recording_id)
            gone = True
            async with self._sessions() as session:  # in a cluster, the node's control
                row = await session.get(Recording, recording.recording_id)  # plane may
            if row is not None and row.state == "ended" and row.end_reason:  # have ended it
                reason = row.end_reason
        if active.finalizers:
            await asyncio.gather(*active.finalizers.values(), return_exceptions=True)
        if gone:  # what the gone recorder wrote and never closed lands all the same
            await self.segments.finalize_left(recording)
        await self._mark_ended(recording.recording_id, reason)
        key = (recording.app_id, recording.room_id, recording.user_id, recording.src_type)
        if self._active.get(key) is active:
            del self._active[key]
        log.info("recording %s ended (%s)", recording.recording_id, reason)
        return reason

    async def _mark_ended(self, recording_id: str, reason: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Recording).where(Recording.recording_id == recording_id)
                .values(state="ended", end_reason=reason, ended_at=utcnow())
            )

    async def _running(self, recording_id: str) -> Recording | None:
        """The row of a recording still running that this control plane did not start (in a
        cluster: started through another node on a stream of this node's), else None."""
        async with self._sessions() as session:
            row = await session.get(Recording, recording_id)
        return row if row is not None and row.state == "recording" else None

    def _by_id(self, recording_id: str) -> _Active | None:
        return next((a for a in self._active.values()
                     if a.recording.recording_id == recording_id), None)

    async def close_room(self, app_id: str, room_id: str) -> None:
        for (a, r, _, _), active in list(self._active.items()):
            if (a, r) == (app_id, room_id):
                await self._end(active, "room_closed")

    async def shutdown(self) -> None:
        """Server stopping: close every recording, keeping what was recorded."""
        await asyncio.gather(*(self._end(a, "shutdown") for a in list(self._active.values())))

    async def recover(self, also: Sequence[str] = ()) -> int:
        """Finalize recordings a crash left open (on this node, and on the media nodes
        ``also`` of this machine: LIVETAPE_MEDIA_PROCESSES). Returns how many."""
        recovered: list[str] = []
        for node_id in (self._node.node_id, *also):
            recovered += await self.segments.recover(node_id)
        for recording_id in recovered:
            await self._mark_ended(recording_id, "recovered")
        return len(recovered)

    async def file_ids(self, recording_id: str) -> list[str]:
        return await self.segments.file_ids(recording_id)

    # views -------------------------------------------------------------------------------

    async def get(self, app_id: str, recording_id: str) -> RecordingDetail:
        """The recording; ``received``, ``written`` and ``dropped`` are set (and shown) only
        while it runs."""
        async with self._sessions() as session:
            row = await session.get(Recording, recording_id)
        if row is None or row.app_id != app_id:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no recording {recording_id!r}")
        view = RecordingView.of(row).model_dump()
        view["file_ids"] = await self.file_ids(recording_id)
        active = self._active.get((row.app_id, row.room_id, row.user_id, row.src_type))
        if active is not None and active.recording.recording_id == recording_id:
            stats = await self._node.recording_stats(recording_id)
            if stats is not None:
                view["received"] = stats.received
                view["written"] = stats.written
                view["dropped"] = stats.dropped
        return RecordingDetail(**view)

    async def in_progress(self, app_id: str) -> list[RecordingProgress]:
        """The app's running recordings, oldest first, with how long each has run, the file
        being written (``segment``: its number, 0 before the first key frame) and the files
        that already landed."""
        now = utcnow()
        views = []
        for active in sorted((a for k, a in self._active.items() if k[0] == app_id),
                             key=lambda a: a.recording.started_at):
            stats = await self._node.recording_stats(active.recording.recording_id)
            views.append(RecordingProgress(
                **RecordingView.of(active.recording).model_dump(),
                elapsed_seconds=round((now - active.recording.started_at).total_seconds(), 1),
                segment=stats.segment if stats is not None else 0,
                written=stats.written if stats is not None else {},
                file_ids=await self.file_ids(active.recording.recording_id),
            ))
        return views

    def active_in_room(self, app_id: str, room_id: str) -> list[RecordingView]:
        return [
            RecordingView.of(a.recording) for (ap, r, _, _), a in sorted(self._active.items())
            if (ap, r) == (app_id, room_id)
        ]
