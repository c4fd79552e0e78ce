"""The storage back-end interface: where library objects (MP4 files, later renditions) live.

Keys are relative paths such as ``<app_id>/<file_id>/f0.mp4``. Back ends are picked by
:func:`livetape.storage.create_storage` from the settings (``LIVETAPE_STORAGE_URL``): a local
folder (:mod:`livetape.storage.local`) or an S3 bucket (:mod:`livetape.storage.s3`).

A missing object is ``FileNotFoundError`` (or None where the method says so); a store that
cannot be used is a :class:`StorageError`: :class:`StorageUnreachable`,
:class:`StorageAccessDenied` or :class:`NoSuchBucket`, so callers tell "storage down" from
"bad key" (:class:`InvalidKey`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
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


class StorageError(Exception):
    """The store cannot be used (as opposed to a missing object or a refused key)."""


class StorageUnreachable(StorageError):
    """The store does not answer (connection refused, timeout, DNS)."""


class StorageAccessDenied(StorageError):
    """The store refuses the credentials (missing, wrong, or without the permission)."""


class NoSuchBucket(StorageError):
    """The bucket named in LIVETAPE_STORAGE_URL does not exist."""


@dataclass(frozen=True)
class ObjectInfo:
    """An object's size and validators."""

    size: int
    mtime: float  # seconds since the epoch
    etag: str  # quoted, as HTTP sends it


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
    async def stat(self, key: str) -> ObjectInfo | None:
        """The object's size and validators, or None when it does not exist."""

    @abstractmethod
    async def read_bytes(self, key: str, first: int = 0, last: int | None = None) -> bytes:
        """Bytes ``first`` through ``last`` (inclusive; None: to the end) of an object:
        for small reads (playlists, an MP4's index), never a whole media file."""

    @abstractmethod
    def stream(self, key: str, first: int, last: int, chunk: int) -> AsyncIterator[bytes]:
        """Bytes ``first`` through ``last`` (inclusive) of an object, ``chunk`` at a time."""

    @abstractmethod
    async def presign(self, key: str, seconds: int, media_type: str) -> str | None:
        """A URL that GETs the object (served as ``media_type``) for ``seconds`` without
        credentials, or None when the back end has none (a local folder)."""

    @abstractmethod
    async def check(self) -> None:
        """Raise :class:`StorageError` when the store cannot be used (start-up check)."""

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """A filesystem path to serve the object from, when the back end has one."""

    def close(self) -> None:  # noqa: B027 (a back end without connections has nothing to do)
        """Release connections; idempotent."""

    def pending(self, key: str) -> bool:
        """Whether ``key`` still waits on this node for its store (see storage/spool.py)."""
        return False
