"""Storage back ends behind :class:`Storage`, chosen from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from livetape.storage.base import (
    InvalidKey,
    NoSuchBucket,
    ObjectInfo,
    Storage,
    StorageAccessDenied,
    StorageError,
    StorageUnreachable,
    check_key,
)
from livetape.storage.local import LocalStorage
from livetape.storage.location import FolderLocation, parse_storage_url

if TYPE_CHECKING:  # config imports storage.location: no import cycle at run time
    from livetape.config import Settings

__all__ = ["InvalidKey", "LocalStorage", "NoSuchBucket", "ObjectInfo", "Storage",
           "StorageAccessDenied", "StorageError", "StorageUnreachable", "check_key",
           "create_storage"]


def create_storage(settings: Settings) -> Storage:
    """The back end LIVETAPE_STORAGE_URL names (default: the folder ``data_dir/storage``)."""
    if not settings.storage_url:
        return LocalStorage(settings.storage_dir)
    location = parse_storage_url(settings.storage_url)  # checked by the settings already
    if isinstance(location, FolderLocation):
        return LocalStorage(location.root)
    from livetape.storage.s3 import S3Storage  # boto3 loads only when S3 is used

    return S3Storage(location, multipart_threshold=settings.s3_multipart_threshold_bytes,
                     part_size=settings.s3_multipart_part_bytes,
                     connect_timeout=settings.s3_connect_timeout_seconds,
                     read_timeout=settings.s3_read_timeout_seconds,
                     max_attempts=settings.s3_max_attempts)
