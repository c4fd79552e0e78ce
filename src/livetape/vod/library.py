"""The VOD library: every recorded file lands here; play info finds files by name.

A file row is written with status -1 (not yet stored) before its bytes move to storage,
then flips to 2 (normal): a crash in between leaves a visible, recoverable row.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.models import VodFile
from ..errors import Catalogue, LivetapeError
from ..recorder.finalize import MediaInfo
from ..storage import Storage
from .search import FileQuery

# ModifyVodInfo's fields, by model attribute: file_name, description, class_id, tags,
# expire_time (None = never)
FileChanges = dict[str, Any]

STATUS_NOT_STORED = -1
STATUS_NORMAL = 2
ORIGINAL = "f0.mp4"  # definition 0


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


def new_file_id() -> str:
    """A numeric, roughly time-ordered id like the original's (e.g. '1764028800123456789')."""
    return f"{time.time_ns() // 1000}{secrets.randbelow(1000):03d}"


class Library:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], storage: Storage) -> None:
        self._sessions = sessions
        self.storage = storage

    async def add_recorded(self, source: Provenance, path: Path, info: MediaInfo) -> str:
        """Store a finished MP4 (the local file is consumed) and return its file id."""
        file_id = new_file_id()
        key = f"{source.app_id}/{file_id}/{ORIGINAL}"
        row = VodFile(
            file_id=file_id, app_id=source.app_id, file_name=source.file_name,
            status=STATUS_NOT_STORED, storage_key=key, size=info.size, duration=info.duration,
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
            stored.status, stored.size = STATUS_NORMAL, size
        return file_id

    async def get(self, app_id: str, file_id: str) -> VodFile:
        async with self._sessions() as session:
            row = await session.get(VodFile, file_id)
        if row is None or row.app_id != app_id:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no file {file_id!r}")
        return row

    async def search(
        self, app_id: str, query: FileQuery, page_no: int, page_size: int
    ) -> tuple[int, list[VodFile]]:
        """DescribeVodInfo (and play info's name search): one page and the total count."""
        where = query.where(app_id)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(VodFile).where(*where))
            rows = await session.scalars(
                select(VodFile).where(*where).order_by(*query.order())
                .offset((page_no - 1) * page_size).limit(page_size)
            )
            return int(total or 0), list(rows)

    async def modify(self, app_id: str, file_id: str, changes: FileChanges) -> VodFile:
        """ModifyVodInfo: only the fields given change."""
        async with self._sessions() as session, session.begin():
            row = await session.get(VodFile, file_id)
            if row is None or row.app_id != app_id:
                raise LivetapeError(Catalogue.NOT_FOUND, f"no file {file_id!r}")
            for name, value in changes.items():
                setattr(row, name, value)
        return row

    async def delete(self, app_id: str, file_id: str) -> None:
        """DeleteVodFile: every stored object of the file (renditions too), then its row."""
        row = await self.get(app_id, file_id)
        await self.storage.delete_prefix(f"{row.app_id}/{row.file_id}/")
        async with self._sessions() as session, session.begin():
            await session.execute(sql_delete(VodFile).where(VodFile.file_id == file_id))

    async def sweep_expired(self, now: datetime) -> list[str]:
        """Delete every file whose expiry time has passed; returns their ids."""
        async with self._sessions() as session:
            rows = list(await session.scalars(
                select(VodFile).where(VodFile.expire_time.is_not(None),
                                      VodFile.expire_time <= now)
            ))
        for row in rows:
            await self.delete(row.app_id, row.file_id)
        return [row.file_id for row in rows]

    @staticmethod
    def media_path(row: VodFile) -> str:
        """The URL path that serves a file's original MP4."""
        return f"/media/{row.storage_key}"

    def describe(self, row: VodFile, base_url: str) -> dict[str, Any]:
        """A file as play info and the files API show it."""
        return {
            "file_id": row.file_id, "file_name": row.file_name, "duration": round(row.duration, 3),
            "size": row.size, "status": row.status,
            "create_time": row.create_time.isoformat(), "class_id": row.class_id,
            "description": row.description,
            "expire_time": row.expire_time.isoformat() if row.expire_time else -1,
            "tags": row.tags, "recording_id": row.recording_id, "room_id": row.room_id,
            "user_id": row.user_id, "src_type": row.src_type,
            "video_codec": row.video_codec, "audio_codec": row.audio_codec,
            "width": row.width, "height": row.height, "bitrate": row.bitrate,
            "play_set": [{
                "url": base_url.rstrip("/") + self.media_path(row), "definition": 0,
                "vbitrate": row.video_bitrate, "vwidth": row.width, "vheight": row.height,
            }] if row.status == STATUS_NORMAL else [],
        }
