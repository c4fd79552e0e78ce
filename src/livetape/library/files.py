"""The VOD library: every recorded file lands here; play info finds files by name.

A file row is written with status -1 (not yet stored) before its bytes move to storage,
then flips to 2 (normal): a crash in between leaves a visible, recoverable row.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.billing.usage import UsageLedger
from livetape.config import Settings
from livetape.db.models import FileStatus, Job, Rendition, Snapshot, VodClass, VodFile
from livetape.errors import Catalogue, LivetapeError
from livetape.events.payloads import file_gone, file_ready
from livetape.library.class_tree import TOP
from livetape.library.file_changes import FileUpdate, checked_changes
from livetape.library.search import FileQuery
from livetape.processing.probe import MediaInfo
from livetape.storage import Storage
from livetape.storage.base import StorageError

log = logging.getLogger(__name__)

ORIGINAL = "f0.mp4"  # definition 0
# status_reason while the file waits in this node's spool for the object store (it plays)
UPLOAD_PENDING = "upload pending: stored on the recording node, not yet in object storage"
HLS_MASTER = "hls/master.m3u8"
# Every name a file's objects are stored under: the original and MP4 renditions, the HLS
# master, variant playlists and segments, the cover and snapshots (processing/ writes them).
OBJECT_NAME = re.compile(r"f\d{1,4}\.mp4|cover\.jpg|snap/\d{1,12}\.jpg|hls/master\.m3u8"
                         r"|hls/\d{1,4}/(index\.m3u8|seg_\d{5,9}\.ts)", re.ASCII)
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # app and file ids (digits, as livetape makes them)


def object_key(app_id: str, file_id: str, name: str) -> str | None:
    """The storage key of a file's object, or None when no such object can exist: checked
    before storage or the database is asked (no ``..``, NUL, folders or other files)."""
    if ID.fullmatch(app_id) and ID.fullmatch(file_id) and OBJECT_NAME.fullmatch(name):
        return f"{app_id}/{file_id}/{name}"
    return None

UrlFor = Callable[[str], str]  # a media path -> the absolute (maybe signed) URL
# what else goes with a deleted file, in the same transaction (its pending jobs fail)
OnDelete = Callable[[AsyncSession, str], Awaitable[None]]


@dataclass(frozen=True)
class Provenance:
    """Where a recorded file came from."""

    app_id: str
    file_name: str
    recording_id: str
    segment_seq: int
    room_id: str
    user_id: str
    src_type: str
    class_id: int
    tags: list[str]
    # what the recording asked for once the file lands (start recording's flags)
    transcode: bool = False
    screenshot: bool = False
    watermark: bool = False


@dataclass
class FileExtras:
    """What processing added to a file: renditions, images, and (in detail views) jobs."""

    renditions: list[Rendition] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


def new_file_id() -> str:
    """A numeric, roughly time-ordered id like the original's (e.g. '1764028800123456789')."""
    return f"{time.time_ns() // 1000}{secrets.randbelow(1000):03d}"


class Library:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], storage: Storage, settings: Settings,
        *, on_delete: OnDelete | None = None,
    ) -> None:
        self._sessions = sessions
        self.storage = storage
        self._on_delete = on_delete  # in the deletion's transaction (the jobs' queue)
        self._settings = settings
        self.usage = UsageLedger(sessions)

    async def add_recorded(self, source: Provenance, path: Path, info: MediaInfo) -> str:
        """Store a finished MP4 (the local file is consumed) and return its file id."""
        file_id = new_file_id()
        key = f"{source.app_id}/{file_id}/{ORIGINAL}"
        row = VodFile(
            file_id=file_id, app_id=source.app_id, file_name=source.file_name,
            status=FileStatus.NOT_STORED, storage_key=key, size=info.size, duration=info.duration,
            video_codec=info.video_codec, audio_codec=info.audio_codec, width=info.width,
            height=info.height, bitrate=info.bitrate, video_bitrate=info.video_bitrate,
            recording_id=source.recording_id, segment_seq=source.segment_seq,
            room_id=source.room_id, user_id=source.user_id, src_type=source.src_type,
            class_id=source.class_id, tags=list(source.tags),
        )
        async with self._sessions() as session, session.begin():
            session.add(row)
        size = await self.storage.put(key, path)
        async with self._sessions() as session, session.begin():
            stored = await session.get(VodFile, file_id)
            assert stored is not None
            stored.status, stored.size = FileStatus.NORMAL, size
            if self.storage.pending(key):
                stored.status_reason = UPLOAD_PENDING
                stored.spooled_on = self._settings.resolved_node_id()
            await file_ready(session, stored)  # the outbox
        await self.usage.note_storage(source.app_id)
        return file_id

    async def uploaded(self, key: str) -> None:
        """The spool's upload of ``key`` is verified in the object store."""
        parts = key.split("/")
        if len(parts) != 3 or parts[2] != ORIGINAL:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(update(VodFile).where(
                VodFile.file_id == parts[1], VodFile.status_reason == UPLOAD_PENDING,
            ).values(status_reason="", spooled_on=None))

    async def spooled_on(self, file_id: str) -> str | None:
        """The node whose spool holds the file's original, while it waits for the store."""
        async with self._sessions() as session:
            found: str | None = await session.scalar(select(VodFile.spooled_on).where(
                VodFile.file_id == file_id, VodFile.status_reason == UPLOAD_PENDING))
        return found

    async def discard_unstored(self, recording_id: str, segment_seq: int) -> int:
        """Drop rows (and any objects) a crash left at status -1 for this segment, before
        it is finalized again; returns how many."""
        async with self._sessions() as session:
            stale = list(await session.scalars(select(VodFile).where(
                VodFile.recording_id == recording_id, VodFile.segment_seq == segment_seq,
                VodFile.status == FileStatus.NOT_STORED)))
        for row in stale:
            await self.storage.delete_prefix(f"{row.app_id}/{row.file_id}/")
            async with self._sessions() as session, session.begin():
                await session.execute(sql_delete(VodFile).where(VodFile.file_id == row.file_id))
        return len(stale)

    async def get(self, app_id: str, file_id: str) -> VodFile:
        async with self._sessions() as session:
            row = await session.get(VodFile, file_id)
        if row is None or row.app_id != app_id:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no file {file_id!r}")
        return row

    async def search(
        self, app_id: str, query: FileQuery, page_no: int, page_size: int
    ) -> tuple[int, list[VodFile]]:
        """DescribeVodInfo (and play info's name search): one page and the total count, read
        in one query (a window count), so both agree while files land or go."""
        return await self.search_range(app_id, query, (page_no - 1) * page_size, page_size)

    async def search_range(
        self, app_id: str, query: FileQuery, offset: int, limit: int
    ) -> tuple[int, list[VodFile]]:
        """The ``limit`` files after the first ``offset`` that ``query`` finds, and the total
        count (the original's SearchMedia pages by offset)."""
        where = query.where(app_id)
        async with self._sessions() as session:
            page = (await session.execute(
                select(VodFile, func.count().over()).where(*where).order_by(*query.order())
                .offset(offset).limit(limit)
            )).all()
            if page:
                return int(page[0][1]), [row for row, _ in page]
            # past the last page: only the count is left to tell
            total = await session.scalar(select(func.count()).select_from(VodFile).where(*where))
            return int(total or 0), []

    async def modify(self, app_id: str, file_id: str, update: FileUpdate) -> VodFile:
        """ModifyVodInfo: only the fields given change (checked: :mod:`file_changes`); a new
        class must exist."""
        changes = checked_changes(update, self._settings)
        async with self._sessions() as session, session.begin():
            class_id = changes.get("class_id", TOP)
            if class_id != TOP:
                found = await session.get(VodClass, class_id)
                if found is None or found.app_id != app_id:
                    raise LivetapeError(Catalogue.NOT_FOUND, f"no class {class_id}")
            row = await session.get(VodFile, file_id)
            if row is None or row.app_id != app_id:
                raise LivetapeError(Catalogue.NOT_FOUND, f"no file {file_id!r}")
            for name, value in changes.items():
                setattr(row, name, value)
        return row

    async def delete(self, app_id: str, file_id: str, *, expired: bool = False) -> None:
        """DeleteVodFile: every stored object of the file (renditions too), then its rows
        (``expired``: the expiry sweep deletes it; the event says file.expired)."""
        row = await self.get(app_id, file_id)
        async with self._sessions() as session, session.begin():
            if self._on_delete is not None:
                await self._on_delete(session, file_id)
            for model in (Rendition, Snapshot):
                await session.execute(sql_delete(model).where(model.file_id == file_id))
            await session.execute(sql_delete(VodFile).where(VodFile.file_id == file_id))
            await file_gone(session, row, expired=expired)  # the outbox
        # the objects after the rows: a job that stores an output meanwhile either finds
        # the row gone (and deletes its output) or stored it before this delete
        prefix = f"{row.app_id}/{row.file_id}/"
        try:
            await self.storage.delete_prefix(prefix)
        except StorageError as exc:
            log.error("file %s deleted, but its objects under %s were not (%s): delete them "
                      "by hand", file_id, prefix, exc)
        await self.usage.note_storage(app_id)  # the day's peak keeps what was stored before

    async def extras(self, file_ids: list[str], *, jobs: bool = False) -> dict[str, FileExtras]:
        """Renditions and images (and jobs, when asked) of some files, by file id."""
        found = {file_id: FileExtras() for file_id in file_ids}
        async with self._sessions() as session:
            for rendition in await session.scalars(
                select(Rendition).where(Rendition.file_id.in_(file_ids))
                .order_by(Rendition.definition)
            ):
                found[rendition.file_id].renditions.append(rendition)
            for snapshot in await session.scalars(
                select(Snapshot).where(Snapshot.file_id.in_(file_ids))
                .order_by(Snapshot.kind, Snapshot.time_offset_ms)
            ):
                found[snapshot.file_id].snapshots.append(snapshot)
            if jobs:
                for job in await session.scalars(
                    select(Job).where(Job.file_id.in_(file_ids)).order_by(Job.created_at)
                ):
                    found[job.file_id].jobs.append(job)
        return found

    async def sweep_expired(self, now: datetime) -> list[str]:
        """Delete every file whose expiry time has passed; returns their ids."""
        async with self._sessions() as session:
            rows = list(await session.scalars(
                select(VodFile).where(VodFile.expire_time.is_not(None),
                                      VodFile.expire_time <= now)
            ))
        for row in rows:
            await self.delete(row.app_id, row.file_id, expired=True)
        return [row.file_id for row in rows]

    @staticmethod
    def media_path(storage_key: str) -> str:
        """The URL path that serves a stored object."""
        return f"/media/{storage_key}"
