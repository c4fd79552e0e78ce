"""A processing worker: claims jobs from the queue and runs them, one at a time.

Runs as its own process (``livetape worker``), either started by the server beside itself
(:class:`livetape.jobs.pool.WorkerPool`) or on another machine that reaches the same
database and storage. While a job runs, the worker renews its lease and reports progress
every third of the lease. ``stop()`` gives the running job back to the queue so that the
next worker starts it at once instead of waiting for the lease to run out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from contextlib import suppress

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from livetape.config import Settings
from livetape.db.models import Job
from livetape.db.session import Database
from livetape.jobs.processor import JobError, Processor
from livetape.jobs.queue import JobQueue
from livetape.storage import StorageUnreachable, create_storage
from livetape.storage.spool import through_spool

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, settings: Settings, db: Database, name: str | None = None) -> None:
        self._settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.queue = JobQueue(db.sessions, max_attempts=settings.job_max_attempts)
        self._storage = create_storage(settings)
        storage, _ = through_spool(self._storage, settings, uploads=False)
        self._processor = Processor(settings, db.sessions, storage)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._current: Job | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"worker {self.name}")

    async def stop(self) -> None:
        """Stop claiming; a running job goes back to the queue. Idempotent."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._current is not None:
            await self.queue.release(self._current)
            log.info("worker %s gave back job %s", self.name, self._current.job_id)
            self._current = None
        self._storage.close()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def request_stop(self) -> None:
        self._stopping.set()

    async def wait(self) -> None:
        await self._stopping.wait()

    async def _loop(self) -> None:
        lease = self._settings.job_lease_seconds
        while not self._stopping.is_set():
            try:
                job = await self.queue.claim(self.name, lease)
            except Exception:  # the database may be restarting: try again later
                log.exception("worker %s could not claim a job", self.name)
                job = None
            if job is None:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._settings.job_poll_seconds)
                continue
            self._current = job
            await self._run(job)
            self._current = None

    async def _run(self, job: Job) -> None:
        log.info("worker %s runs job %s (%s of file %s, attempt %d)", self.name, job.job_id,
                 job.kind, job.file_id, job.attempts)
        fraction = [0.0]

        def progress(value: float) -> None:  # called from the processing thread
            fraction[0] = value

        heartbeat = asyncio.create_task(self._heartbeat(job, fraction))
        try:
            await self._run_while_storage_returns(job, progress)
        except JobError as exc:
            log.warning("job %s failed: %s", job.job_id, exc)
            await self.queue.fail(job, str(exc), retry=False)
            return
        except Exception as exc:
            log.exception("job %s failed (attempt %d)", job.job_id, job.attempts)
            await self.queue.fail(job, f"{type(exc).__name__}: {exc}", retry=True)
            return
        finally:
            heartbeat.cancel()
        if await self.queue.finish(job):
            log.info("job %s done", job.job_id)
        else:
            log.warning("job %s finished after its lease was lost; its result stands", job.job_id)

    async def _run_while_storage_returns(self, job: Job,
                                         progress: Callable[[float], None]) -> None:
        """Run the job; while the object store cannot be reached, run it again with backoff
        (the lease is kept) for up to LIVETAPE_JOB_STORAGE_RETRY_SECONDS before it counts as
        a failed attempt: an outage delays processing, it does not fail it."""
        patience = self._settings.job_storage_retry_seconds

        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("job %s: storage unreachable (%s); retrying", job.job_id, exc)

        async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(StorageUnreachable),
                wait=wait_exponential(multiplier=1, min=1, max=30),
                stop=stop_after_delay(patience), before_sleep=note, reraise=True):
            with attempt:
                await self._processor.run(job, progress)

    async def _heartbeat(self, job: Job, fraction: list[float]) -> None:
        lease = self._settings.job_lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                if not await self.queue.renew(job, lease, 100.0 * fraction[0]):
                    log.warning("job %s: lease lost", job.job_id)
                    return
            except Exception:
                log.exception("job %s: lease renewal failed", job.job_id)


async def run_worker(settings: Settings, *, parent_pid: int | None = None) -> None:
    """The ``livetape worker`` process: run until SIGTERM/SIGINT (or the parent dies)."""
    import signal

    db = Database(settings.resolved_database_url())
    await db.start(run_migrations=parent_pid is None)  # a server's own workers: it migrated
    worker = Worker(settings, db)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.request_stop)
    if parent_pid is None:
        loop.add_signal_handler(signal.SIGINT, worker.request_stop)
    else:  # Ctrl+C reaches the whole process group: the server stops its workers itself
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker.start()
    log.info("worker %s started", worker.name)
    try:
        while True:
            if worker.stopping:
                break
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("worker %s: its server is gone; stopping", worker.name)
                break
            with suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), 1.0)
    finally:
        await worker.stop()
        await db.stop()
        # a job given back may still run in its thread: end the process without joining it
        logging.shutdown()
        os._exit(0)
