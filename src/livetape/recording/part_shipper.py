"""A recording's open files, copied to the shared storage while they are written.

In a cluster a part file (fragmented MP4) is on the disk of the node that records it; if
that node dies, a survivor can only finalize what reached the shared storage. Every
``LIVETAPE_PART_UPLOAD_SECONDS`` each open part's size is looked at, and its new bytes (a
fragment the muxer just wrote) are uploaded at once as one chunk object,
``parts/<recording_id>/<seq:04d>/<offset:012d>``: fragmented MP4 is append-only, so the
chunks, read in order from offset 0 (each one's size gives the next one's offset), concatenate
into the part as it was then. :meth:`PartShipper.rebuild` does that on the
survivor; once a segment lands normally its chunks are deleted.

Uploads run in the store's threads, at most :data:`UPLOADS` at a time; a store that is slow or
away only delays chunks (the next upload takes every byte not sent yet), and never holds up
a recording or the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from livetape.storage import Storage

log = logging.getLogger(__name__)

UPLOADS = 2  # chunks uploaded at once (each holds one of the store's threads)
MAX_CHUNK = 16 * 1024 * 1024  # bytes per chunk object at most (a store back after an outage)


def chunk_prefix(recording_id: str, seq: int | None = None) -> str:
    """The folder of a segment's chunks (of every segment of the recording without ``seq``)."""
    return f"parts/{recording_id}/" + ("" if seq is None else f"{seq:04d}/")


def chunk_key(recording_id: str, seq: int, offset: int) -> str:
    return f"{chunk_prefix(recording_id, seq)}{offset:012d}"


@dataclass(eq=False)
class _Part:
    recording_id: str
    seq: int
    path: Path
    shipped: int = 0
    failing: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class PartShipper:
    def __init__(self, storage: Storage, every: float, scratch: Path) -> None:
        self._storage, self._every, self._scratch = storage, every, scratch
        self._parts: dict[tuple[str, int], _Part] = {}
        self._uploads = asyncio.Semaphore(UPLOADS)
        self._chores: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        """Stop copying (idempotent): a node that stops cleanly closes its files itself."""
        for part in list(self._parts.values()):
            await self.unwatch(part.recording_id, part.seq)
        for chore in list(self._chores):
            chore.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)

    def watch(self, recording_id: str, seq: int, path: Path) -> None:
        """Copy the part's new bytes to the store from now on, until :meth:`unwatch`."""
        if self._every <= 0 or (recording_id, seq) in self._parts:
            return
        part = _Part(recording_id, seq, path)
        part.task = asyncio.create_task(self._ship_while_open(part),
                                        name=f"ship {recording_id}/{seq}")
        self._parts[(recording_id, seq)] = part

    async def unwatch(self, recording_id: str, seq: int) -> None:
        """Stop copying the part (an upload under way ends first, so no chunk lands later)."""
        part = self._parts.pop((recording_id, seq), None)
        if part is not None and part.task is not None:
            part.done.set()
            await asyncio.gather(part.task, return_exceptions=True)

    def discard(self, recording_id: str, seq: int | None = None) -> None:
        """Delete the chunks of a segment that landed (in the background: best effort)."""
        chore = asyncio.create_task(self._discard(chunk_prefix(recording_id, seq)))
        self._chores.add(chore)
        chore.add_done_callback(self._chores.discard)

    async def _discard(self, prefix: str) -> None:
        try:
            await self._storage.delete_prefix(prefix)
        except Exception as exc:
            log.warning("chunks %s not deleted (%s): they stay in the store", prefix, exc)

    # copying -----------------------------------------------------------------------------

    async def _ship_while_open(self, part: _Part) -> None:
        """Look at the part's size every ``every`` seconds (a fixed rate, whatever an upload
        took) and copy what is new at once: the muxer writes a fragment whole, so about one
        chunk per fragment goes out, a moment after the fragment is on disk."""
        loop = asyncio.get_running_loop()
        tick = loop.time()
        while not part.done.is_set():
            tick = max(tick + self._every, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(part.done.wait(), tick - loop.time())
                return
            if _size(part.path) > part.shipped or part.failing:
                await self._ship(part)

    async def _ship(self, part: _Part) -> None:
        async with self._uploads:
            chunk = self._scratch / f"chunk-{uuid.uuid4().hex}"
            try:
                taken = await asyncio.to_thread(_copy_tail, part.path, part.shipped, chunk)
                if taken:
                    key = chunk_key(part.recording_id, part.seq, part.shipped)
                    await self._storage.put(key, chunk)
                    part.shipped += taken
                if part.failing:
                    log.info("%s segment %d: chunks reach the store again", part.recording_id,
                             part.seq)
                part.failing = False
            except Exception as exc:
                if not part.failing:
                    log.warning("%s segment %d: chunk not stored (%s); retried every %g s",
                                part.recording_id, part.seq, exc, self._every)
                part.failing = True
            finally:
                chunk.unlink(missing_ok=True)

    # a survivor's side ---------------------------------------------------------------------

    async def rebuild(self, recording_id: str, seq: int, target: Path) -> int:
        """Concatenate the segment's chunks into ``target``; returns its size (0: none)."""
        await asyncio.to_thread(_empty, target)
        offset = 0
        while True:
            fetched = self._scratch / f"fetch-{uuid.uuid4().hex}"
            try:
                source = await self._storage.download(chunk_key(recording_id, seq, offset),
                                                      fetched)
            except FileNotFoundError:
                break
            try:
                offset += await asyncio.to_thread(_append, source, target)
            finally:
                fetched.unlink(missing_ok=True)
        return offset


def _copy_tail(path: Path, start: int, chunk: Path) -> int:
    """Copy the bytes of ``path`` from ``start`` on (MAX_CHUNK at most) into ``chunk``."""
    count = min(_size(path) - start, MAX_CHUNK)  # 0 size: not created yet, or gone
    if count <= 0:
        return 0
    chunk.parent.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as source, chunk.open("wb") as out:
        source.seek(start)
        data = source.read(count)
        out.write(data)
    return len(data)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _empty(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"")


def _append(source: Path, target: Path) -> int:
    data = source.read_bytes()
    with target.open("ab") as out:
        out.write(data)
    return len(data)
