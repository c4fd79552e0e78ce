"""JobQueue against a real database (SQLite, and PostgreSQL when configured), no server:
claims, leases and their renewal, expiry and re-runs, attempts, hand-back, file status."""

from __future__ import annotations

import asyncio

import pytest

from livetape.auth.apps import AppService
from livetape.db.models import FileStatus, Job, JobState, VodFile
from livetape.db.session import Database
from livetape.errors import Catalogue, LivetapeError
from livetape.jobs.queue import JobQueue

LEASE = 30.0
EXPIRED = -1.0  # a lease that has already run out, as if its worker had died


async def setup(database: Database, max_attempts: int = 3) -> tuple[JobQueue, str, str]:
    """A queue, an app and one stored file of it (status NORMAL)."""
    app = await AppService(database.sessions).create("jobs")
    async with database.sessions() as session, session.begin():
        session.add(VodFile(file_id="f1", app_id=app.app_id, file_name="f1",
                            status=FileStatus.NORMAL, storage_key=f"{app.app_id}/f1/f0.mp4"))
    return JobQueue(database.sessions, max_attempts=max_attempts), app.app_id, "f1"


async def file_status(database: Database, file_id: str) -> tuple[int, str]:
    async with database.sessions() as session:
        row = await session.get(VodFile, file_id)
    assert row is not None
    return row.status, row.status_reason


async def current(queue: JobQueue, app_id: str, job: Job) -> Job:
    return await queue.get(app_id, job.job_id)


async def test_a_claim_holds_the_job_until_its_lease_runs_out(database: Database) -> None:
    queue, app_id, file_id = await setup(database)
    job = await queue.enqueue(app_id, file_id, "transcode", {"definitions": [10]})
    assert job.state == JobState.QUEUED
    assert (await file_status(database, file_id))[0] == FileStatus.PROCESSING

    claimed = await queue.claim("w1", LEASE)
    assert claimed is not None and claimed.job_id == job.job_id
    assert (claimed.state, claimed.worker, claimed.attempts) == (JobState.RUNNING, "w1", 1)
    assert claimed.params == {"definitions": [10]}
    assert await queue.claim("w2", LEASE) is None  # held

    assert await queue.renew(claimed, LEASE, 42.44)
    assert (await current(queue, app_id, job)).progress == 42.4
    assert await queue.finish(claimed)
    done = await current(queue, app_id, job)
    assert (done.state, done.progress, done.lease_until) == (JobState.DONE, 100.0, None)
    assert done.finished_at is not None
    assert (await file_status(database, file_id))[0] == FileStatus.NORMAL
    assert await queue.claim("w2", LEASE) is None  # nothing left


async def test_an_expired_lease_is_claimed_again_and_the_first_worker_loses_it(
        database: Database) -> None:
    queue, app_id, file_id = await setup(database)
    await queue.enqueue(app_id, file_id, "transcode", {})
    first = await queue.claim("w1", EXPIRED)
    assert first is not None
    second = await queue.claim("w2", LEASE)  # w1 died: the job runs again, from the start
    assert second is not None and second.job_id == first.job_id
    assert (second.worker, second.attempts, second.progress) == ("w2", 2, 0.0)
    # the first run may still be alive somewhere: it finds out that it lost the job
    assert not await queue.renew(first, LEASE, 50.0)
    assert not await queue.finish(first)
    await queue.release(first)  # a hand-back of a job that is no longer ours changes nothing
    assert (await current(queue, app_id, second)).worker == "w2"
    assert await queue.finish(second)


async def test_after_max_attempts_the_job_fails_and_so_does_its_file(
        database: Database) -> None:
    queue, app_id, file_id = await setup(database, max_attempts=2)
    job = await queue.enqueue(app_id, file_id, "transcode", {})
    for _ in range(2):
        assert await queue.claim("w", EXPIRED) is not None
    assert await queue.claim("w", LEASE) is None  # given up instead of a third run
    failed = await current(queue, app_id, job)
    assert failed.state == JobState.FAILED and failed.error == "gave up after 2 attempts"
    assert await file_status(database, file_id) == (
        FileStatus.FAILED, "transcode: gave up after 2 attempts")


async def test_a_failed_run_is_retried_while_attempts_remain(database: Database) -> None:
    queue, app_id, file_id = await setup(database, max_attempts=2)
    job = await queue.enqueue(app_id, file_id, "watermark", {})
    run = await queue.claim("w", LEASE)
    assert run is not None
    await queue.fail(run, "decoder hiccup", retry=True)
    again = await current(queue, app_id, job)
    assert (again.state, again.worker, again.error) == (JobState.QUEUED, None, "decoder hiccup")
    assert (await file_status(database, file_id))[0] == FileStatus.PROCESSING

    run = await queue.claim("w", LEASE)
    assert run is not None and run.attempts == 2
    await queue.fail(run, "decoder hiccup", retry=True)  # no attempt left
    assert (await current(queue, app_id, job)).state == JobState.FAILED
    assert await file_status(database, file_id) == (FileStatus.FAILED,
                                                     "watermark: decoder hiccup")


async def test_a_failure_that_is_not_worth_retrying_fails_at_once(database: Database) -> None:
    queue, app_id, file_id = await setup(database)
    job = await queue.enqueue(app_id, file_id, "transcode", {})
    run = await queue.claim("w", LEASE)
    assert run is not None
    await queue.fail(run, "x" * 2000, retry=False)
    failed = await current(queue, app_id, job)
    assert failed.state == JobState.FAILED and failed.error == "x" * 1000  # capped


async def test_a_stopping_worker_hands_the_job_back_uncounted(database: Database) -> None:
    queue, app_id, file_id = await setup(database, max_attempts=1)
    job = await queue.enqueue(app_id, file_id, "transcode", {})
    run = await queue.claim("w1", LEASE)
    assert run is not None
    await queue.release(run)
    back = await current(queue, app_id, job)
    assert (back.state, back.worker, back.attempts, back.lease_until) == (
        JobState.QUEUED, None, 0, None)
    rerun = await queue.claim("w2", LEASE)  # max_attempts=1 and still claimable
    assert rerun is not None and rerun.attempts == 1
    assert await queue.finish(rerun)


async def test_oldest_first_and_snapshots_leave_the_file_status_alone(
        database: Database) -> None:
    queue, app_id, file_id = await setup(database)
    snapshot = await queue.enqueue(app_id, file_id, "snapshot", {"offsets_ms": [0]})
    assert (await file_status(database, file_id))[0] == FileStatus.NORMAL
    await asyncio.sleep(0.01)
    transcode = await queue.enqueue(app_id, file_id, "transcode", {})
    first, second = await queue.claim("w", LEASE), await queue.claim("w", LEASE)
    assert first is not None and second is not None
    assert (first.job_id, second.job_id) == (snapshot.job_id, transcode.job_id)
    assert await queue.finish(first)  # the transcode is pending still
    assert (await file_status(database, file_id))[0] == FileStatus.PROCESSING
    assert await queue.finish(second)
    assert (await file_status(database, file_id))[0] == FileStatus.NORMAL


async def test_jobs_are_seen_by_their_own_app_only(database: Database) -> None:
    queue, app_id, file_id = await setup(database)
    job = await queue.enqueue(app_id, file_id, "snapshot", {})
    assert [j.job_id for j in await queue.list(app_id, state=JobState.QUEUED)] == [job.job_id]
    assert await queue.list(app_id, file_id="other") == []
    assert await queue.list("someone-else") == []
    with pytest.raises(LivetapeError) as err:
        await queue.get("someone-else", job.job_id)
    assert err.value.kind is Catalogue.NOT_FOUND
    with pytest.raises(ValueError, match="unknown job kind"):
        await queue.enqueue(app_id, file_id, "nonsense", {})


async def test_deleting_a_file_fails_its_pending_jobs(database: Database) -> None:
    queue, app_id, file_id = await setup(database)
    job = await queue.enqueue(app_id, file_id, "transcode", {})
    async with database.sessions() as session, session.begin():
        await queue.forget_file(session, file_id)
    gone = await current(queue, app_id, job)
    assert (gone.state, gone.error) == (JobState.FAILED, "file deleted")
    assert await queue.claim("w", LEASE) is None
