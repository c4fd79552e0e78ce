"""A recording's files, from first byte to library: the segment ledger.

A segment is registered (state ``writing``) before its first byte is written, finalized
into the library when it closes (``done``, with its file id; ``empty`` when it held no
media; ``failed`` keeps the part on disk), and found again after a crash: whatever a
``writing`` segment has on disk is finalized at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import Recording, Segment
from livetape.library.files import Library, Provenance
from livetape.processing.probe import MediaInfo, probe
from livetape.recorder.finalize import remux

log = logging.getLogger(__name__)

# what a file gets once it has landed in the library (its processing jobs), before its
# segment is marked done: a crash in between finalizes the segment again
Landed = Callable[[Provenance, str, MediaInfo], Awaitable[None]]


class SegmentLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], library: Library,
                 landed: Landed, on_finalized: Callable[[float], None] | None = None) -> None:
        """``on_finalized``: told the seconds each segment took from its close to its file
        in the library."""
        self._sessions = sessions
        self._library = library
        self._landed = landed
        self._on_finalized = on_finalized

    async def opened(self, recording: Recording, seq: int, part: Path) -> None:
        async with self._sessions() as session, session.begin():
            session.add(Segment(recording_id=recording.recording_id, seq=seq,
                                part_path=str(part), state="writing"))

    async def finalize(self, recording: Recording, seq: int, part: Path) -> None:
        """fMP4 part -> standard MP4 -> library. On failure the part is kept on disk."""
        final = part.with_name(part.name.replace(".part.mp4", ".mp4"))
        began = time.monotonic()
        try:
            if await self._library.discard_unstored(recording.recording_id, seq):
                log.warning("recording %s segment %d: dropped a half-stored copy from before "
                            "a crash", recording.recording_id, seq)
            if not await asyncio.to_thread(remux, part, final):
                await self._set(recording.recording_id, seq, "empty", None)
                await asyncio.to_thread(part.unlink, missing_ok=True)
                return
            info = await asyncio.to_thread(probe, final)
            source = Provenance(
                recording.app_id, recording.file_name, recording.recording_id, seq,
                recording.room_id, recording.user_id, recording.src_type, recording.class_id,
                list(recording.tags or []), recording.transcode, recording.screenshot,
                recording.watermark,
            )
            file_id = await self._library.add_recorded(source, final, info)
            await self._landed(source, file_id, info)
            await self._set(recording.recording_id, seq, "done", file_id)
            await asyncio.to_thread(part.unlink, missing_ok=True)
            if self._on_finalized is not None:
                self._on_finalized(time.monotonic() - began)
            log.info("recording %s segment %d -> file %s (%.2f s)", recording.recording_id,
                     seq, file_id, info.duration)
        except Exception:
            log.exception("finalizing %s failed; %s is kept", recording.recording_id, part)
            await self._set(recording.recording_id, seq, "failed", None)

    async def _set(self, recording_id: str, seq: int, state: str, file_id: str | None) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Segment).where(Segment.recording_id == recording_id, Segment.seq == seq)
                .values(state=state, file_id=file_id)
            )

    async def file_ids(self, recording_id: str) -> list[str]:
        """The library files of a recording, in segment order."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Segment.file_id).where(
                    Segment.recording_id == recording_id, Segment.file_id.is_not(None)
                ).order_by(Segment.seq)
            )
            return [f for f in rows if f]

    async def recover(self, node_id: str) -> list[str]:
        """Finalize the segments of recordings a crash left open on media node ``node_id``
        (in a cluster, other nodes' running recordings are theirs); returns their ids."""
        async with self._sessions() as session:
            open_recordings = list(await session.scalars(
                select(Recording).where(Recording.state == "recording",
                                        or_(Recording.node_id == node_id,
                                            Recording.node_id.is_(None)))
            ))
        for recording in open_recordings:
            count = await self.finalize_left(recording)
            log.warning("recording %s recovered after a crash (%d segments)",
                        recording.recording_id, count)
        return [r.recording_id for r in open_recordings]

    async def finalize_left(self, recording: Recording) -> int:
        """Finalize the segments of ``recording`` still ``writing`` whose recorder is gone (a
        crash: of the server, or of the media process that ran it); returns how many."""
        async with self._sessions() as session:
            segments = list(await session.scalars(
                select(Segment).where(Segment.recording_id == recording.recording_id,
                                      Segment.state == "writing").order_by(Segment.seq)
            ))
        for segment in segments:
            await self.finalize(recording, segment.seq, Path(segment.part_path))
        return len(segments)
