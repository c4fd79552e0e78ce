"""A recording's files, from first byte to library: the segment ledger.

A segment is registered (state ``writing``) before its first byte is written, finalized
into the library when it closes (``done``, with its file id; ``empty`` when it held no
media; ``failed`` keeps the part on disk), and found again after a crash: whatever a
``writing`` segment has on disk is finalized at start-up.

In a cluster the ledger also hands each open part to the :class:`PartShipper` (its bytes
reach the shared storage while it is written), rebuilds the parts of a dead node's segments
from there (:meth:`SegmentLedger.finalize_lost`), and lands the late files of a node that
was only cut off (:meth:`SegmentLedger.land_late`) under new numbers when theirs are taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import Recording, Segment
from livetape.library.files import Library, Provenance
from livetape.processing.probe import MediaInfo, probe
from livetape.recorder.finalize import remux
from livetape.recording.part_shipper import PartShipper

log = logging.getLogger(__name__)

# what a file gets once it has landed in the library (its processing jobs), before its
# segment is marked done: a crash in between finalizes the segment again
Landed = Callable[[Provenance, str, MediaInfo], Awaitable[None]]


class SegmentLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], library: Library,
                 landed: Landed, on_finalized: Callable[[float], None] | None = None,
                 shipper: PartShipper | None = None) -> None:
        """``on_finalized``: told the seconds each segment took from its close to its file
        in the library."""
        self._sessions = sessions
        self._library = library
        self._landed = landed
        self._on_finalized = on_finalized
        self.shipper = shipper  # a cluster: parts reach the shared storage as written

    async def opened(self, recording: Recording, seq: int, part: Path) -> None:
        async with self._sessions() as session, session.begin():
            if await session.get(Segment, (recording.recording_id, seq)) is None:
                session.add(Segment(recording_id=recording.recording_id, seq=seq,
                                    part_path=str(part), state="writing"))
        if self.shipper is not None:
            self.shipper.watch(recording.recording_id, seq, part)

    async def land_late(self, recording: Recording, seq: int, part: Path) -> None:
        """A closed part of a recording that ended without this node (it was cut off from
        the cluster, and a survivor finalized what it could): land it too, under the next
        free number when its own already holds a file."""
        async with self._sessions() as session, session.begin():
            row = await session.get(Segment, (recording.recording_id, seq))
            if row is None or row.state != "writing" or row.part_path != str(part):
                last = await session.scalar(select(func.max(Segment.seq)).where(
                    Segment.recording_id == recording.recording_id))
                seq = (last or 0) + 1
                session.add(Segment(recording_id=recording.recording_id, seq=seq,
                                    part_path=str(part), state="writing"))
        log.warning("recording %s: a part written while its node was cut off lands as "
                    "segment %d", recording.recording_id, seq)
        await self.finalize(recording, seq, part)

    async def finalize_lost(self, recording: Recording, seq: int, scratch: Path) -> None:
        """A dead node's segment: its part rebuilt from the chunks that reached the shared
        storage, then finalized as any other (nothing reached it: the segment is empty)."""
        part = scratch / recording.recording_id / f"segment-{seq:04d}.part.mp4"
        size = 0
        if self.shipper is not None:
            size = await self.shipper.rebuild(recording.recording_id, seq, part)
        log.warning("recording %s segment %d: %d bytes recovered from the shared storage",
                    recording.recording_id, seq, size)
        await self.finalize(recording, seq, part)

    async def finalize(self, recording: Recording, seq: int, part: Path) -> None:
        """fMP4 part -> standard MP4 -> library. On failure the part is kept on disk."""
        final = part.with_name(part.name.replace(".part.mp4", ".mp4"))
        began = time.monotonic()
        if self.shipper is not None:
            await self.shipper.unwatch(recording.recording_id, seq)
        try:
            if await self._library.discard_unstored(recording.recording_id, seq):
                log.warning("recording %s segment %d: dropped a half-stored copy from before "
                            "a crash", recording.recording_id, seq)
            if not await asyncio.to_thread(remux, part, final):
                await self._set(recording.recording_id, seq, "empty", None)
                await asyncio.to_thread(part.unlink, missing_ok=True)
                self._discard_chunks(recording.recording_id, seq)
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
            self._discard_chunks(recording.recording_id, seq)
            if self._on_finalized is not None:
                self._on_finalized(time.monotonic() - began)
            log.info("recording %s segment %d -> file %s (%.2f s)", recording.recording_id,
                     seq, file_id, info.duration)
        except Exception:
            log.exception("finalizing %s failed; %s is kept", recording.recording_id, part)
            await self._set(recording.recording_id, seq, "failed", None)

    def _discard_chunks(self, recording_id: str, seq: int) -> None:
        if self.shipper is not None:
            self.shipper.discard(recording_id, seq)

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
        (in a cluster, other nodes' running recordings are theirs); returns their ids. Each
        is claimed first (end_reason ``recovered``, conditionally): a survivor that took it
        as a dead node's (``node_lost``) keeps it, and this node leaves it alone."""
        mine = or_(Recording.node_id == node_id, Recording.node_id.is_(None))
        unclaimed = or_(Recording.end_reason.is_(None), Recording.end_reason == "recovered")
        async with self._sessions() as session:
            open_recordings = list(await session.scalars(
                select(Recording).where(Recording.state == "recording", mine, unclaimed)))
        recovered = []
        for recording in open_recordings:
            async with self._sessions() as session, session.begin():
                claimed = await session.execute(
                    update(Recording).where(Recording.recording_id == recording.recording_id,
                                            Recording.state == "recording", mine, unclaimed)
                    .values(end_reason="recovered"))
            if not claimed.rowcount:  # type: ignore[attr-defined]
                continue
            async with self._sessions() as session:
                segments = list(await session.scalars(
                    select(Segment).where(Segment.recording_id == recording.recording_id,
                                          Segment.state == "writing").order_by(Segment.seq)
                ))
            for segment in segments:
                await self.finalize(recording, segment.seq, Path(segment.part_path))
            log.warning("recording %s recovered after a crash (%d segments)",
                        recording.recording_id, len(segments))
            recovered.append(recording.recording_id)
        return recovered

    async def finalize_left(self, recording: Recording) -> int:
        """Finalize the segments of ``recording`` still ``writing`` whose recorder is gone (its
        media process crashed and was started again); returns how many."""
        async with self._sessions() as session:
            segments = list(await session.scalars(
                select(Segment).where(Segment.recording_id == recording.recording_id,
                                      Segment.state == "writing").order_by(Segment.seq)
            ))
        left = await asyncio.to_thread(  # the parts on this machine's disk
            lambda: [s for s in segments if Path(s.part_path).exists()])
        for segment in left:
            await self.finalize(recording, segment.seq, Path(segment.part_path))
        return len(left)

    async def writing(self, recording_id: str) -> list[int]:
        """The numbers of the recording's segments not finalized yet."""
        async with self._sessions() as session:
            return list(await session.scalars(
                select(Segment.seq).where(Segment.recording_id == recording_id,
                                          Segment.state == "writing").order_by(Segment.seq)))

    async def next_seq(self, recording_id: str) -> int:
        """The number a new segment of the recording takes (1 for the first)."""
        async with self._sessions() as session:
            last = await session.scalar(select(func.max(Segment.seq)).where(
                Segment.recording_id == recording_id))
        return (last or 0) + 1
