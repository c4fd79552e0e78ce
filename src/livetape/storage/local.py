"""Local-folder storage: the embedded default."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from livetape.storage.base import InvalidKey, ObjectInfo, Storage, StorageError, check_key


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str, *, prefix: bool = False) -> Path:
        """The key's place under the root; keys that could leave it are refused before the
        filesystem is asked anything, and a symbolic link out of the root is refused too."""
        path = (self.root / check_key(key, prefix=prefix)).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidKey(f"storage key escapes the storage root: {key!r}")
        return path

    async def put(self, key: str, source: Path) -> int:
        target = self._path(key)

        def move() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), target)  # a rename on the same filesystem
            return target.stat().st_size

        return await asyncio.to_thread(move)

    async def download(self, key: str, target: Path) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r}")
        return path  # already on this filesystem: read in place

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix.endswith("/"):
            raise ValueError("local storage deletes whole folders: end the prefix with '/'")
        folder = self._path(prefix, prefix=True)

        def remove() -> int:
            if not folder.is_dir():
                return 0
            count = sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder)
            return count

        return await asyncio.to_thread(remove)

    async def size(self, key: str) -> int | None:
        info = await self.stat(key)
        return None if info is None else info.size  # a folder is not an object

    async def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            found = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        # Starlette's FileResponse ETag: the same whichever way the object is served
        base = f"{found.st_mtime}-{found.st_size}".encode()
        etag = f'"{hashlib.md5(base, usedforsecurity=False).hexdigest()}"'
        return ObjectInfo(found.st_size, found.st_mtime, etag)

    async def read_bytes(self, key: str, first: int = 0, last: int | None = None) -> bytes:
        path = self._path(key)

        def read() -> bytes:
            if not path.is_file():
                raise FileNotFoundError(f"no object {key!r}")
            with path.open("rb") as handle:
                handle.seek(first)
                return handle.read(-1 if last is None else max(last - first + 1, 0))

        return await asyncio.to_thread(read)

    async def stream(self, key: str, first: int, last: int, chunk: int) -> AsyncIterator[bytes]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r}")
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            await asyncio.to_thread(handle.seek, first)
            left = last - first + 1
            while left > 0:
                data = await asyncio.to_thread(handle.read, min(chunk, left))
                if not data:
                    return
                left -= len(data)
                yield data
        finally:
            handle.close()

    async def presign(self, key: str, seconds: int, media_type: str) -> str | None:
        self._path(key)
        return None  # served from the folder by livetape itself

    async def check(self) -> None:
        """The folder exists (or is created) and takes a file."""
        def probe() -> None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=self.root, prefix=".check-"):
                    pass
            except OSError as exc:
                raise StorageError(f"{self.root}: {exc.strerror or exc}") from None
            if not os.access(self.root, os.W_OK):  # pragma: no cover (root ignores modes)
                raise StorageError(f"{self.root}: not writable")

        await asyncio.to_thread(probe)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None  # a folder is not an object
