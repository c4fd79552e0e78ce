"""Storage back ends behind :class:`Storage`, chosen from the settings."""

from __future__ import annotations

from livetape.config import Settings
from livetape.storage.base import InvalidKey, Storage, check_key
from livetape.storage.local import LocalStorage

__all__ = ["InvalidKey", "LocalStorage", "Storage", "check_key", "create_storage"]


def create_storage(settings: Settings) -> Storage:
    """The configured back end (only the local folder for now)."""
    return LocalStorage(settings.storage_dir)
