"""The processing job queue, kept in the database so workers can run anywhere.

A job is ``queued`` -> ``running`` -> ``done`` | ``failed``. A worker claims the oldest
claimable job with one conditional UPDATE (it wins only if the row still looks the way it
read it); on PostgreSQL the read is ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent
workers (on any number of machines) each take a different row without waiting on one
another and without losing races. It then holds it with a lease it renews while
reporting progress. A job whose lease ran out, because its worker or the whole server
died, is claimable again and re-runs from the start; after ``max_attempts`` runs it
fails. Transcode and watermark jobs put their file in status 4 while pending, then back
to 2, or 7 with the reason when they fail.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import FileStatus, Job, JobState, VodFile, utcnow
from livetape.errors import Catalogue, LivetapeError
from livetape.events.payloads import job_finished

KINDS = ("transcode", "snapshot", "watermark")
# these put the file in PROCESSING, then NORMAL or FAILED
CHANGES_STATUS = ("transcode", "watermark")
PENDING = (JobState.QUEUED, JobState.RUNNING)


def new_job_id() -> str:
    return f"job-{time.time_ns() // 1000}-{secrets.token_hex(3)}"


class JobQueue:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, max_attempts: int) -> None:
        self._sessions = sessions
        self.max_attempts = max_attempts

    async def enqueue(
        self, app_id: str, file_id: str, kind: str, params: dict[str, Any]
    ) -> Job:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        job = Job(job_id=new_job_id(), app_id=app_id, file_id=file_id, kind=kind,
                  params=params, state=JobState.QUEUED, progress=0.0, attempts=0,
                  created_at=utcnow())
        async with self._sessions() as session, session.begin():
            session.add(job)
            if kind in CHANGES_STATUS:
                await session.execute(
                    update(VodFile).where(VodFile.file_id == file_id)
                    .values(status=FileStatus.PROCESSING, status_reason="")
                )
        return job

    async def get(self, app_id: str, job_id: str) -> Job:
        async with self._sessions() as session:
            job = await session.get(Job, job_id)
        if job is None or job.app_id != app_id:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no job {job_id!r}")
        return job

    async def list(
        self, app_id: str, *, file_id: str | None = None, state: str | None = None,
        limit: int = 100,
    ) -> list[Job]:
        where = [Job.app_id == app_id]
        if file_id is not None:
            where.append(Job.file_id == file_id)
        if state is not None:
            where.append(Job.state == state)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Job).where(*where).order_by(Job.created_at.desc()).limit(limit)
            )
            return list(rows)

    async def claim(self, worker: str, lease_seconds: float) -> Job | None:
        """Take the oldest queued job (or one whose lease ran out) for ``worker``."""
        for _ in range(5):  # another worker may win a race: try the next candidate
            current = utcnow()
            claimable = or_(Job.state == JobState.QUEUED,
                            and_(Job.state == JobState.RUNNING, Job.lease_until < current))
            async with self._sessions() as session, session.begin():
                oldest = select(Job).where(claimable).order_by(Job.created_at).limit(1)
                locking = session.get_bind().dialect.name == "postgresql"
                if locking:  # many workers on many machines: each skips the rows others hold
                    oldest = oldest.with_for_update(skip_locked=True)
                candidate = await session.scalar(oldest)
                if candidate is None:
                    return None
                if candidate.attempts >= self.max_attempts:
                    await self._fail_in(session, candidate, candidate.error
                                        or f"gave up after {candidate.attempts} attempts")
                    continue
                won = await session.execute(
                    update(Job).where(Job.job_id == candidate.job_id,
                                      Job.attempts == candidate.attempts, claimable)
                    .values(state=JobState.RUNNING, worker=worker, attempts=candidate.attempts + 1,
                            progress=0.0, started_at=current,
                            lease_until=current + timedelta(seconds=lease_seconds))
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    await session.refresh(candidate)
                    return candidate
        return None

    async def renew(self, job: Job, lease_seconds: float, progress: float) -> bool:
        """Extend the lease and record progress; False when the job is no longer ours."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(Job).where(Job.job_id == job.job_id, Job.worker == job.worker,
                                  Job.attempts == job.attempts, Job.state == JobState.RUNNING)
                .values(progress=round(progress, 1),
                        lease_until=utcnow() + timedelta(seconds=lease_seconds))
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def release(self, job: Job) -> None:
        """Give a job back (its worker is stopping): queued again, this run not counted."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Job).where(Job.job_id == job.job_id, Job.worker == job.worker,
                                  Job.state == JobState.RUNNING)
                .values(state=JobState.QUEUED, worker=None, lease_until=None, progress=0.0,
                        attempts=Job.attempts - 1)
            )

    async def finish(self, job: Job) -> bool:
        """Mark a run done; False (and nothing changes) when the job was no longer ours."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(Job).where(Job.job_id == job.job_id, Job.worker == job.worker,
                                  Job.attempts == job.attempts, Job.state == JobState.RUNNING)
                .values(state=JobState.DONE, progress=100.0, finished_at=utcnow(), lease_until=None,
                        error="")
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            await self._settle_file(session, job.file_id)
            await job_finished(session, job, JobState.DONE)  # the outbox
            return True

    async def fail(self, job: Job, reason: str, *, retry: bool) -> None:
        """A run failed: queue it again while attempts remain (``retry``), else fail it."""
        async with self._sessions() as session, session.begin():
            if retry and job.attempts < self.max_attempts:
                await session.execute(
                    update(Job).where(Job.job_id == job.job_id)
                    .values(state=JobState.QUEUED, worker=None, lease_until=None,
                            error=reason[:1000])
                )
                return
            await self._fail_in(session, job, reason)

    async def _fail_in(self, session: AsyncSession, job: Job, reason: str) -> None:
        await session.execute(
            update(Job).where(Job.job_id == job.job_id)
            .values(state=JobState.FAILED, finished_at=utcnow(), lease_until=None,
                    error=reason[:1000])
        )
        if job.kind in CHANGES_STATUS:
            await session.execute(
                update(VodFile).where(VodFile.file_id == job.file_id)
                .values(status=FileStatus.FAILED, status_reason=f"{job.kind}: {reason}"[:1000])
            )
        else:
            await self._settle_file(session, job.file_id)
        await job_finished(session, job, JobState.FAILED, reason)  # the outbox

    async def _settle_file(self, session: AsyncSession, file_id: str) -> None:
        """Back to 2 once no transcode/watermark job of the file is pending (7 stays 7
        until a later job of the file succeeds)."""
        pending = await session.scalar(
            select(Job.job_id).where(Job.file_id == file_id, Job.state.in_(PENDING),
                                     Job.kind.in_(CHANGES_STATUS)).limit(1)
        )
        if pending is None:
            await session.execute(
                update(VodFile).where(VodFile.file_id == file_id,
                                      VodFile.status == FileStatus.PROCESSING)
                .values(status=FileStatus.NORMAL)
            )

    async def forget_file(self, session: AsyncSession, file_id: str) -> None:
        """Drop the jobs of a deleted file (a running one finds its file gone)."""
        pending = list(await session.scalars(select(Job).where(
            Job.file_id == file_id, Job.state.in_(PENDING))))
        await session.execute(
            update(Job).where(Job.file_id == file_id, Job.state.in_(PENDING))
            .values(state=JobState.FAILED, error="file deleted", finished_at=utcnow())
        )
        for job in pending:  # the outbox, after the rows are locked (as finish() does)
            await job_finished(session, job, JobState.FAILED, "file deleted")
