"""What the API shows of recordings: one recording, and the app's running recordings.

Both read the database (the record of every node's recordings), so any node of a cluster
answers for all of them; the counters of a running recording come from the media node that
runs it, where it answers (a node that does not is left out: the recording is listed without
its counters).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import Recording, utcnow
from livetape.errors import Catalogue, LivetapeError
from livetape.medianode.interface import MediaNode, RecorderStats
from livetape.recording.recording_view import RecordingDetail, RecordingProgress, RecordingView
from livetape.recording.segments import SegmentLedger

log = logging.getLogger(__name__)


class RecordingListing:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], node: MediaNode,
                 segments: SegmentLedger) -> None:
        self._sessions, self._node, self._segments = sessions, node, segments

    async def _stats(self, recording_id: str) -> RecorderStats | None:
        try:
            return await self._node.recording_stats(recording_id)
        except LivetapeError as exc:  # its node does not answer (dead, cut off, NATS away)
            log.info("recording %s: no counters (%s)", recording_id, exc.detail)
            return None

    async def get(self, app_id: str, recording_id: str) -> RecordingDetail:
        """The recording; ``received``, ``written`` and ``dropped`` are set (and shown) only
        while it runs."""
        async with self._sessions() as session:
            row = await session.get(Recording, recording_id)
        if row is None or row.app_id != app_id:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no recording {recording_id!r}")
        view = RecordingView.of(row).model_dump()
        view["file_ids"] = await self._segments.file_ids(recording_id)
        if row.state == "recording":
            stats = await self._stats(recording_id)
            if stats is not None:
                view["received"] = stats.received
                view["written"] = stats.written
                view["dropped"] = stats.dropped
        return RecordingDetail(**view)

    async def in_progress(self, app_id: str) -> list[RecordingProgress]:
        """The app's running recordings on every node, oldest first, with how long each has
        run, the file being written (``segment``: its number, 0 before the first key frame)
        and the files that already landed."""
        now = utcnow()
        async with self._sessions() as session:
            rows = list(await session.scalars(
                select(Recording).where(Recording.app_id == app_id,
                                        Recording.state == "recording")
                .order_by(Recording.started_at)))
        views = []
        for row in rows:
            stats = await self._stats(row.recording_id)
            views.append(RecordingProgress(
                **RecordingView.of(row).model_dump(),
                elapsed_seconds=round((now - row.started_at).total_seconds(), 1),
                segment=stats.segment if stats is not None else 0,
                written=stats.written if stats is not None else {},
                file_ids=await self._segments.file_ids(row.recording_id),
            ))
        return views
