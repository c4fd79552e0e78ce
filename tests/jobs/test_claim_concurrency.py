"""Many workers claiming at once from one PostgreSQL queue (``FOR UPDATE SKIP LOCKED``), each
with its own connection pool as on separate machines: every job is claimed exactly once, and
all of them are done once the workers find nothing left."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from livetape.auth.apps import AppService
from livetape.db.models import FileStatus, VodFile
from livetape.db.session import Database
from livetape.jobs.queue import JobQueue
from livetape_harness.server import create_postgres_database, drop_postgres_database

JOBS = 120
WORKERS = 12  # each its own engine (pool), as on its own machine
LEASE = 60.0
POSTGRES_URL = os.environ.get("LIVETAPE_TEST_POSTGRES_URL")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("set LIVETAPE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres")
    url = create_postgres_database(POSTGRES_URL)
    yield url
    drop_postgres_database(POSTGRES_URL, url)


async def test_concurrent_claimers_never_take_a_job_twice(postgres_url: str) -> None:
    first = Database(postgres_url)
    await first.start()
    app = await AppService(first.sessions).create("claims")
    async with first.sessions() as session, session.begin():
        session.add(VodFile(file_id="f1", app_id=app.app_id, file_name="f1",
                            status=FileStatus.NORMAL, storage_key=f"{app.app_id}/f1/f0.mp4"))
    queue = JobQueue(first.sessions, max_attempts=3)
    enqueued = {(await queue.enqueue(app.app_id, "f1", "snapshot", {"n": n})).job_id
                for n in range(JOBS)}
    databases = [Database(postgres_url) for _ in range(WORKERS)]
    for db in databases:
        await db.start()
    claimed: list[tuple[str, str]] = []

    async def worker(name: str, db: Database) -> None:
        mine = JobQueue(db.sessions, max_attempts=3)
        while True:
            job = await mine.claim(name, LEASE)
            if job is None:  # nothing claimable (the last ones are held by others)
                return
            claimed.append((job.job_id, name))
            await mine.finish(job)

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker(f"w{i}", db) for i, db in enumerate(databases)))
    finally:
        for db in databases:
            await db.stop()
        await first.stop()
    took = time.monotonic() - started
    ids = [job_id for job_id, _ in claimed]
    assert Counter(ids).most_common(1)[0][1] == 1, "a job was claimed twice"
    assert set(ids) == enqueued
    assert len({name for _, name in claimed}) > 1  # the work really was shared
    print(f"{JOBS} jobs, {WORKERS} claimers: {took:.2f} s, {JOBS / took:.0f} claims/s")
