"""Local-folder storage: the embedded default."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from livetape.storage.base import InvalidKey, Storage, check_key


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
        path = self._path(key)
        return path.stat().st_size if path.exists() else None

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None  # a folder is not an object
