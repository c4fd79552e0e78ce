"""Resume: a publisher that comes back continues its recording.

When a stream is published (a new WHIP session, on any node), its latest recording is looked
up: if that one ended because the publisher's connection dropped (``publisher_left`` with a
resume window: not a deleted WHIP session) or because its node died (``node_lost``), and
``LIVETAPE_RESUME_SECONDS`` have not passed, the recording runs again: same
``recording_id``, a new file numbered after its earlier ones, state ``recording``, and the
pause added to its ``gaps``. A recording still ``recording`` (the old session's end, or the
reap of its dead node, is on its way) is waited for, at most twice
``LIVETAPE_NODE_DEAD_SECONDS``. The claim is a conditional UPDATE on the row, so two control
planes never resume the same recording twice.

A stopped recording (``stopped``), or one that ended any other way, never resumes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.config import Settings
from livetape.db.models import Recording, utcnow
from livetape.recording.recording_service import RecordingService

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25


class Resumer:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 service: RecordingService) -> None:
        self._settings, self._sessions, self._service = settings, sessions, service
        self._tasks: set[asyncio.Task[None]] = set()

    def published(self, app_id: str, room_id: str, user_id: str, src_type: str) -> None:
        """A stream was published (the WHIP answer is sent): resume its recording, if it
        has one to resume, in the background."""
        if self._settings.resume_seconds <= 0:
            return
        task = asyncio.create_task(self._resume((app_id, room_id, user_id, src_type), utcnow()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _resume(self, key: tuple[str, str, str, str], published: datetime) -> None:
        try:
            latest = await self._settled(key, published)
            if latest is None or latest.resume_until is None or latest.ended_at is None:
                return
            if utcnow() > latest.resume_until:
                log.info("recording %s not resumed: its window closed at %s",
                         latest.recording_id, latest.resume_until.isoformat())
                return
            async with self._service.serialized(key):
                claimed = await self._claim(latest)
                if claimed is not None and not await self._service.resume(claimed):
                    await self._unclaim(latest)
        except Exception:
            log.exception("resuming the recording of %s failed", "/".join(key))

    async def _settled(self, key: tuple[str, str, str, str],
                       published: datetime) -> Recording | None:
        """The stream's latest recording once it is no longer running (None: none, one
        started since the publication, or still running after the wait)."""
        settings = self._settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * settings.node_dead_seconds + settings.node_timeout_seconds
        while True:
            latest = await self._latest(key)
            if latest is None or latest.state != "recording":
                return latest
            if latest.started_at >= published:
                return None  # a recording of the new publication
            if loop.time() >= deadline:
                log.info("recording %s still runs: not resumed", latest.recording_id)
                return None
            await asyncio.sleep(POLL_SECONDS)

    async def _latest(self, key: tuple[str, str, str, str]) -> Recording | None:
        app_id, room_id, user_id, src_type = key
        async with self._sessions() as session:
            rows = await session.scalars(select(Recording).where(
                Recording.app_id == app_id, Recording.room_id == room_id,
                Recording.user_id == user_id, Recording.src_type == src_type,
            ).order_by(Recording.started_at.desc()).limit(1))
            return rows.first()

    async def _claim(self, seen: Recording) -> Recording | None:
        """The recording back to ``recording`` with the pause in its gaps, if it is still as
        it was seen (else another node resumed it first: None)."""
        assert seen.ended_at is not None
        now = utcnow()
        gap = {"from": seen.ended_at.isoformat(), "to": now.isoformat(),
               "seconds": round((now - seen.ended_at).total_seconds(), 2)}
        gaps = [*(seen.gaps or []), gap]
        async with self._sessions() as session, session.begin():
            claimed = await session.execute(
                update(Recording).where(Recording.recording_id == seen.recording_id,
                                        Recording.state == "ended",
                                        Recording.ended_at == seen.ended_at)
                .values(state="recording", end_reason=None, ended_at=None, resume_until=None,
                        node_id=None, gaps=gaps))
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        async with self._sessions() as session:
            return await session.get(Recording, seen.recording_id)

    async def _unclaim(self, seen: Recording) -> None:
        """The stream went away before its recorder started: the recording ends again as it
        had (its gaps keep the attempt out: the row is as it was)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Recording).where(Recording.recording_id == seen.recording_id,
                                        Recording.state == "recording")
                .values(state="ended", end_reason=seen.end_reason, ended_at=seen.ended_at,
                        resume_until=seen.resume_until, node_id=seen.node_id, gaps=seen.gaps))
