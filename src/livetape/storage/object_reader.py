"""A stored object as a read-only, seekable binary file, for code that wants a file object
(PyAV parsing an MP4's index) while running in a worker thread: it reads ranged blocks
through the async :class:`Storage` on the event loop that owns it, never the whole object."""

from __future__ import annotations

import asyncio
import io
from collections import OrderedDict

from livetape.storage.base import Storage

BLOCK = 512 * 1024
KEPT_BLOCKS = 8


class ObjectReader(io.RawIOBase):
    """Call from a thread other than ``loop``'s (``asyncio.to_thread``), never from it."""

    def __init__(self, storage: Storage, key: str, size: int,
                 loop: asyncio.AbstractEventLoop, *, block: int = BLOCK) -> None:
        super().__init__()
        self._storage, self._key, self._size, self._loop = storage, key, size, loop
        self._block = block
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._position = 0
        self.fetched = 0  # bytes read from storage (tests check it stays small)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), max(self._size - self._position, 0))
        done = 0
        while done < want:  # across blocks: a full read, as a file gives
            index = self._position // self._block
            start = self._position - index * self._block
            piece = self._get(index)[start:start + want - done]
            if not piece:
                break
            buffer[done:done + len(piece)] = piece
            done += len(piece)
            self._position += len(piece)
        return done

    def _get(self, index: int) -> bytes:
        data = self._blocks.get(index)
        if data is not None:
            self._blocks.move_to_end(index)
            return data
        first = index * self._block
        last = min(first + self._block, self._size) - 1
        future = asyncio.run_coroutine_threadsafe(
            self._storage.read_bytes(self._key, first, last), self._loop)
        data = future.result()
        self.fetched += len(data)
        self._blocks[index] = data
        if len(self._blocks) > KEPT_BLOCKS:
            self._blocks.popitem(last=False)
        return data
