"""The storage back-end interface: where library objects (MP4 files, later renditions) live.

Keys are relative paths such as ``<app_id>/<file_id>/f0.mp4``. Back ends are picked by
:func:`livetape.storage.create_storage` from the settings; S3 will implement the same class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

_REFUSED = frozenset(("", ".", ".."))


class InvalidKey(ValueError):
    """A key that is not a plain relative path: it could name something outside the store."""


def check_key(key: str, *, prefix: bool = False) -> str:
    """``key`` when it is a relative path of plain names (no ``.``, ``..`` or empty parts,
    no backslash, NUL or other control character); with ``prefix``, it may end in ``/``.
    Every back end checks keys with this before touching anything."""
    parts = key.split("/")
    if prefix and len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if any(p in _REFUSED for p in parts) or "\\" in key or any(ord(c) < 32 for c in key):
        raise InvalidKey(f"not a storage key: {key!r}")
    return key


class Storage(ABC):
    """A place for objects. ``put`` moves a finished local file in; never held in memory."""

    @abstractmethod
    async def put(self, key: str, source: Path) -> int:
        """Store ``source`` under ``key`` (the source file is consumed); returns its size."""

    @abstractmethod
    async def download(self, key: str, target: Path) -> Path:
        """A local file with the object's bytes: ``target`` (written), or the object's own
        path when the back end keeps it on this filesystem (never modify that one)."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove an object; no error when it is already gone."""

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix``; returns how many."""

    @abstractmethod
    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """A filesystem path to serve the object from, when the back end has one."""

    def pending(self, key: str) -> bool:
        """Whether ``key`` still waits on this node for its store (see storage/spool.py)."""
        return False
