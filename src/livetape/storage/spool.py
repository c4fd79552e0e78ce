"""The local spool in front of a remote store: nothing recorded is lost while it is away.

A finished recording goes into ``data_dir/spool/<key>`` (a rename, on the same filesystem
as the recordings) and :meth:`Spool.add` returns at once. One uploader task sends spooled
objects to the remote store in the order they came, retrying each with exponential backoff
(``LIVETAPE_UPLOAD_RETRY_SECONDS`` .. ``LIVETAPE_UPLOAD_RETRY_MAX_SECONDS``) for as long as
the store fails, and deletes the spooled file only once the store reports the object with
the same size (and, where the store gives one, the same checksum). A server started with a
non-empty spool (a crash, kill -9, or a shutdown during an outage) resumes those uploads.

While an object waits it is served, and read by processing jobs, from the spool:
:class:`SpooledStorage` is the store as seen through it. Deleting a file while its upload
runs removes the object again once the upload ends, so nothing is left behind. Deleting
while the store is away deletes the store's objects once it is back: the prefix waits in
``<spool>-deletes/`` (one small file each), so a restart in between still deletes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from livetape.config import Settings
from livetape.storage.base import ObjectInfo, Storage, StorageUnreachable, check_key
from livetape.storage.local import LocalStorage

log = logging.getLogger(__name__)

Uploaded = Callable[[str], Awaitable[None]]  # called with the key once it is in the store


class UploadMismatch(OSError):
    """The store holds something else than what was sent (size or checksum)."""


class Spool:
    def __init__(self, folder: Path, remote: Storage, *, retry_seconds: float = 1.0,
                 retry_max_seconds: float = 60.0) -> None:
        self.folder = folder
        # prefixes to delete once the store is back (outside the folder: never uploaded)
        self.deletes_folder = folder.with_name(folder.name + "-deletes")
        self._remote = remote
        self._retry = (retry_seconds, retry_max_seconds)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._deleted: set[str] = set()  # keys deleted while their upload ran
        self._task: asyncio.Task[None] | None = None
        self._deletions: set[asyncio.Task[None]] = set()  # remote deletes waiting on the store
        self._listeners: list[Uploaded] = []
        self.uploaded = 0
        self.failures = 0

    def on_uploaded(self, listener: Uploaded) -> None:
        self._listeners.append(listener)

    def path(self, key: str) -> Path:
        return self.folder / check_key(key)

    def pending(self, key: str) -> Path | None:
        """The spooled file of ``key`` while it waits for the store, else None."""
        path = self.path(key)
        return path if path.is_file() else None

    def pending_keys(self) -> list[str]:
        """Every spooled key, oldest first (the order they are uploaded in)."""
        if not self.folder.is_dir():
            return []
        files = [p for p in self.folder.rglob("*") if p.is_file()
                 and not p.name.endswith(".sending")]
        files.sort(key=lambda p: (p.stat().st_mtime_ns, str(p)))
        return [p.relative_to(self.folder).as_posix() for p in files]

    async def start(self) -> None:
        """Resume what a previous run left in the spool, then upload what comes."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.rglob("*.sending"):  # an upload interrupted by a crash
            stale.unlink(missing_ok=True)
        left = self.pending_keys()
        if left:
            log.warning("spool: resuming %d upload(s) left by a previous run", len(left))
        for key in left:
            self._enqueue(key)
        for marker in sorted(self.deletes_folder.glob("*.prefix")):
            prefix = marker.read_text(encoding="utf-8")
            log.warning("spool: resuming the deletion of the store's objects under %s", prefix)
            self._delete_when_back(prefix, marker)
        self._task = asyncio.create_task(self._run(), name="spool uploader")

    async def stop(self) -> None:
        """Stop uploading (idempotent); spooled files stay for the next start."""
        task, self._task = self._task, None
        tasks = [*self._deletions, *([task] if task is not None else [])]
        self._deletions.clear()
        for running in tasks:
            running.cancel()
        for running in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await running

    async def add(self, key: str, source: Path) -> int:
        """Move ``source`` into the spool under ``key`` and queue its upload; its size."""
        target = self.path(key)

        def move() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)  # same filesystem: atomic
            return target.stat().st_size

        size = await asyncio.to_thread(move)
        self._deleted.discard(key)
        self._enqueue(key)
        return size

    def forget(self, key: str) -> None:
        """``key`` was deleted: drop its spooled file, and its object once an upload ends."""
        path = self.path(key)
        path.unlink(missing_ok=True)
        self._deleted.add(key)

    def delete_later(self, prefix: str) -> None:
        """Delete the store's objects under ``prefix`` once it answers again (it failed
        now), retried with the uploads' backoff; written down first, so a restart resumes it."""
        name = hashlib.sha256(prefix.encode()).hexdigest()[:32]
        marker = self.deletes_folder / f"{name}.prefix"
        self.deletes_folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(prefix, encoding="utf-8")
        self._delete_when_back(prefix, marker)

    def _delete_when_back(self, prefix: str, marker: Path) -> None:
        async def delete() -> None:
            async for attempt in self._retrying(f"deleting {prefix}"):
                with attempt:
                    await self._remote.delete_prefix(prefix)
            await asyncio.to_thread(marker.unlink, missing_ok=True)
            log.info("spool: the store's objects under %s deleted", prefix)

        task = asyncio.create_task(delete(), name=f"spool delete {prefix}")
        self._deletions.add(task)
        task.add_done_callback(self._deletions.discard)

    def _retrying(self, what: str) -> AsyncRetrying:
        first, most = self._retry

        def note(state: RetryCallState) -> None:
            self.failures += 1
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0
            log.warning("spool: %s failed (attempt %d: %s); retrying in %.1f s",
                        what, state.attempt_number, exc, wait)

        return AsyncRetrying(wait=wait_exponential(multiplier=first, min=first, max=most),
                             retry=retry_if_exception_type(Exception), before_sleep=note,
                             reraise=True)

    def _enqueue(self, key: str) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    async def _run(self) -> None:
        while True:
            key = await self._queue.get()
            try:
                await self._upload_with_retries(key)
            finally:
                self._queued.discard(key)

    async def _upload_with_retries(self, key: str) -> None:
        async for attempt in self._retrying(f"upload of {key}"):
            with attempt:
                await self._upload(key)

    async def _upload(self, key: str) -> None:
        path = self.path(key)
        if not path.is_file():  # deleted meanwhile
            return
        size = path.stat().st_size
        sending = path.with_name(path.name + ".sending")
        sending.unlink(missing_ok=True)
        os.link(path, sending)  # the store's put consumes this name; the spooled file stays
        try:
            await self._remote.put(key, sending)
        finally:
            sending.unlink(missing_ok=True)
        stored = await self._remote.size(key)
        if stored != size:
            raise UploadMismatch(f"{key}: the store holds {stored} bytes, {size} were sent")
        if key in self._deleted or not path.exists():  # deleted while it was sent
            await self._remote.delete(key)
            self._deleted.discard(key)
            return
        path.unlink(missing_ok=True)
        self._prune(path.parent)
        self.uploaded += 1
        log.info("spool: %s uploaded (%d bytes)", key, size)
        for listener in self._listeners:
            try:
                await listener(key)
            except Exception:
                log.exception("spool: after-upload callback for %s failed", key)

    def _prune(self, folder: Path) -> None:
        """Remove folders the last upload emptied (never the spool itself)."""
        while folder != self.folder and folder.is_relative_to(self.folder):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


class SpooledStorage(Storage):
    """The remote store seen through the spool: objects waiting there are read (served,
    processed) from it. With ``spool`` None (a worker process), a read-only view: it reads
    the server's spool folder but stores straight into the remote store."""

    def __init__(self, remote: Storage, folder: Path, spool: Spool | None = None) -> None:
        self.remote = remote
        self._folder = folder
        self._spool = spool
        self._waiting = LocalStorage(folder)  # the spooled files, read as a local store

    def _pending(self, key: str) -> Path | None:
        path = self._folder / check_key(key)
        return path if path.is_file() else None

    def pending(self, key: str) -> bool:
        return self._pending(key) is not None

    async def put(self, key: str, source: Path) -> int:
        if self._spool is not None:
            return await self._spool.add(key, source)
        return await self.remote.put(key, source)

    async def download(self, key: str, target: Path) -> Path:
        return self._pending(key) or await self.remote.download(key, target)

    async def delete(self, key: str) -> None:
        if self._spool is not None:
            self._spool.forget(key)
        await self.remote.delete(key)

    async def delete_prefix(self, prefix: str) -> int:
        """The spooled objects go at once; the store's too, or, while it is away (the file
        is deleted all the same), once it is back (:meth:`Spool.delete_later`)."""
        waiting = 0
        if self._spool is not None:
            for key in self._spool.pending_keys():
                if key.startswith(check_key(prefix, prefix=True)):
                    self._spool.forget(key)
                    waiting += 1
        try:
            return waiting + await self.remote.delete_prefix(prefix)
        except StorageUnreachable:
            if self._spool is None:
                raise
            self._spool.delete_later(prefix)
            return waiting

    async def size(self, key: str) -> int | None:
        path = self._pending(key)
        return path.stat().st_size if path is not None else await self.remote.size(key)

    def _reader(self, key: str) -> Storage:
        """Where ``key`` is read from: the spool while it waits there, else the store."""
        return self._waiting if self._pending(key) is not None else self.remote

    async def stat(self, key: str) -> ObjectInfo | None:
        return await self._reader(key).stat(key)

    async def read_bytes(self, key: str, first: int = 0, last: int | None = None) -> bytes:
        return await self._reader(key).read_bytes(key, first, last)

    def stream(self, key: str, first: int, last: int, chunk: int) -> AsyncIterator[bytes]:
        return self._reader(key).stream(key, first, last, chunk)

    async def presign(self, key: str, seconds: int, media_type: str) -> str | None:
        if self._pending(key) is not None:
            return None  # served from the spool by livetape itself
        return await self.remote.presign(key, seconds, media_type)

    async def check(self) -> None:
        await self.remote.check()

    def local_path(self, key: str) -> Path | None:
        return self._pending(key) or self.remote.local_path(key)

    def close(self) -> None:
        self.remote.close()


def through_spool(remote: Storage, settings: Settings, *,
                  uploads: bool) -> tuple[Storage, Spool | None]:
    """The store a process uses: a local folder as it is; a remote store through the spool,
    which uploads (``uploads``: the server) or is only read (a worker process)."""
    if isinstance(remote, LocalStorage):
        return remote, None
    spool = Spool(settings.spool_dir, remote, retry_seconds=settings.upload_retry_seconds,
                  retry_max_seconds=settings.upload_retry_max_seconds) if uploads else None
    return SpooledStorage(remote, settings.spool_dir, spool), spool
