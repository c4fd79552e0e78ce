"""What ``/metrics`` reads when it is scraped (:class:`livetape.metrics.Scraped`): the media
node's totals, the job queue and the finished jobs' durations (from the database, so every
node of a cluster shows the same), and what waits in the storage spool."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import ColumnElement, Float, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import Job, JobState
from livetape.medianode.interface import NodeTotals
from livetape.metrics import JobDurations, Scraped

Totals = Callable[[], Awaitable[NodeTotals]]


def _seconds(dialect: str) -> ColumnElement[float]:
    """A finished job's run time in seconds, in the database's own terms."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", Job.finished_at - Job.started_at), Float)
    return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0


def _spool_size(folder: Path | None) -> tuple[int, int]:
    if folder is None or not folder.is_dir():
        return 0, 0
    sizes = [p.stat().st_size for p in folder.rglob("*") if p.is_file()
             and not p.name.endswith(".sending")]
    return len(sizes), sum(sizes)


class Scraper:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], totals: Totals, *,
                 spool_folder: Path | None = None) -> None:
        """``totals``: the media node's (with LIVETAPE_MEDIA_PROCESSES, every media process
        of the server together)."""
        self._sessions = sessions
        self._totals = totals
        self._spool_folder = spool_folder

    async def read(self) -> Scraped:
        node = await self._totals()
        jobs, durations = await self._jobs()
        spool_files, spool_bytes = await asyncio.to_thread(_spool_size, self._spool_folder)
        return Scraped(
            publications=node.publications, recordings=node.recordings,
            rtp_packets=node.rtp_packets, media_bytes=node.media_bytes,
            frames_written=node.frames_written, frames_dropped=node.frames_dropped,
            udp_drops=node.udp_drops, nack_requests=node.nack_requests,
            packets_recovered=node.packets_recovered, video_gaps=node.video_gaps,
            plis=node.plis,
            jobs=jobs, job_durations=durations,
            spool_files=spool_files, spool_bytes=spool_bytes,
        )

    async def _jobs(self) -> tuple[dict[str, int], list[JobDurations]]:
        async with self._sessions() as session:
            waiting = {JobState.QUEUED.value: 0, JobState.RUNNING.value: 0}
            rows = await session.execute(
                select(Job.state, func.count()).where(Job.state.in_(list(waiting)))
                .group_by(Job.state))
            waiting.update({state: count for state, count in rows.tuples()})
            seconds = _seconds(session.get_bind().dialect.name)
            finished = await session.execute(
                select(Job.kind, Job.state, func.count(), func.coalesce(func.sum(seconds), 0.0))
                .where(Job.state.in_([JobState.DONE.value, JobState.FAILED.value]),
                       Job.started_at.is_not(None), Job.finished_at.is_not(None))
                .group_by(Job.kind, Job.state).order_by(Job.kind, Job.state))
            durations = [JobDurations(kind, state, count, float(total))
                         for kind, state, count, total in finished.tuples()]
        return waiting, durations
