"""S3-compatible object storage (AWS S3, MinIO, SeaweedFS...) through boto3.

boto3 is synchronous: every call runs in a thread (``asyncio.to_thread``) on the one client
this store holds (boto3 clients are thread-safe). Its managed transfers upload large files
in parts (multipart, above ``multipart_threshold``) and download them likewise; requests are
signed with SigV4 (presigned URLs too) and retried by botocore's standard mode.

Keys are checked with :func:`check_key` first, then put under the URL's prefix. botocore's
errors become :class:`StorageUnreachable` / :class:`StorageAccessDenied` /
:class:`NoSuchBucket`, a missing object ``FileNotFoundError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from livetape.storage.base import (
    NoSuchBucket,
    ObjectInfo,
    Storage,
    StorageAccessDenied,
    StorageError,
    StorageUnreachable,
    check_key,
)
from livetape.storage.location import S3Location

T = TypeVar("T")

DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
          "ExpiredToken", "InvalidToken", "AllAccessDisabled", "AccountProblem"}
MISSING_OBJECT = {"404", "NoSuchKey", "NotFound"}


class S3Storage(Storage):
    def __init__(self, location: S3Location, *, multipart_threshold: int = 16 * 1024 * 1024,
                 part_size: int = 16 * 1024 * 1024, connect_timeout: float = 5.0,
                 read_timeout: float = 30.0, max_attempts: int = 3) -> None:
        self.location = location
        self.bucket = location.bucket
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=location.endpoint, region_name=location.region,
            config=Config(signature_version="s3v4",
                          s3={"addressing_style": location.addressing},
                          connect_timeout=connect_timeout, read_timeout=read_timeout,
                          retries={"mode": "standard", "max_attempts": max_attempts},
                          max_pool_connections=32))
        self._transfer = TransferConfig(multipart_threshold=multipart_threshold,
                                        multipart_chunksize=part_size, max_concurrency=4)

    def _key(self, key: str, *, prefix: bool = False) -> str:
        return self.location.prefix + check_key(key, prefix=prefix)

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` in a thread, botocore's failures translated."""
        try:
            return await asyncio.to_thread(fn)
        except ClientError as exc:
            error = translate(exc, what)
            if isinstance(error, StorageError):
                error = type(error)(f"{self._where()}: {error}")
            raise error from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise StorageAccessDenied(f"{self._where()}: no credentials ({exc}): set "
                                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from exc
        except (ConnectionError, HTTPClientError) as exc:
            raise StorageUnreachable(f"{self._where()} is unreachable: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"{self._where()}: {exc}") from exc

    def _where(self) -> str:
        return self.location.describe()

    async def put(self, key: str, source: Path) -> int:
        name = self._key(key)

        def upload() -> int:
            size = source.stat().st_size
            self._client.upload_file(str(source), self.bucket, name, Config=self._transfer)
            source.unlink()  # consumed, as the local store's move does
            return size

        return await self._call(key, upload)

    async def download(self, key: str, target: Path) -> Path:
        name = self._key(key)

        def fetch() -> Path:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._client.download_file(self.bucket, name, str(target), Config=self._transfer)
            return target

        return await self._call(key, fetch)

    async def delete(self, key: str) -> None:
        name = self._key(key)
        await self._call(key, lambda: self._client.delete_object(Bucket=self.bucket, Key=name))

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix.endswith("/"):
            raise ValueError("storage deletes whole folders: end the prefix with '/'")
        name = self._key(prefix, prefix=True)

        def remove() -> int:
            count = 0
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=name)
            for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                for start in range(0, len(keys), DELETE_BATCH):
                    batch = keys[start:start + DELETE_BATCH]
                    answer = self._client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                    errors = answer.get("Errors") or []
                    if errors:
                        first = errors[0]
                        raise StorageError(f"{len(errors)} object(s) under {prefix!r} not "
                                           f"deleted: {first.get('Code')} {first.get('Key')}")
                    count += len(batch)
            return count

        return await self._call(prefix, remove)

    async def stat(self, key: str) -> ObjectInfo | None:
        name = self._key(key)
        try:
            head = await self._call(key, lambda: self._client.head_object(
                Bucket=self.bucket, Key=name))
        except FileNotFoundError:
            return None
        return ObjectInfo(int(head["ContentLength"]), head["LastModified"].timestamp(),
                          head.get("ETag") or f'"{head["ContentLength"]}"')

    async def size(self, key: str) -> int | None:
        info = await self.stat(key)
        return None if info is None else info.size

    async def read_bytes(self, key: str, first: int = 0, last: int | None = None) -> bytes:
        name = self._key(key)
        span = f"bytes={first}-{'' if last is None else last}"

        def get() -> bytes:
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=name, Range=span)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    return b""  # starts past the end: nothing, as a file read there gives
                raise
            with answer["Body"] as body:
                data: bytes = body.read()
            return data

        return await self._call(key, get)

    async def stream(self, key: str, first: int, last: int, chunk: int) -> AsyncIterator[bytes]:
        name = self._key(key)
        answer = await self._call(key, lambda: self._client.get_object(
            Bucket=self.bucket, Key=name, Range=f"bytes={first}-{last}"))
        body = answer["Body"]
        try:
            while True:
                data = await self._call(key, lambda: body.read(chunk))
                if not data:
                    return
                yield data
        finally:
            body.close()

    async def presign(self, key: str, seconds: int, media_type: str) -> str | None:
        name = self._key(key)
        url: str = await self._call(key, lambda: self._client.generate_presigned_url(
            "get_object", ExpiresIn=seconds,
            Params={"Bucket": self.bucket, "Key": name, "ResponseContentType": media_type}))
        return url

    async def check(self) -> None:
        """HeadBucket: reachable, the bucket exists, the credentials are taken."""
        await self._call("", lambda: self._client.head_bucket(Bucket=self.bucket))

    def local_path(self, key: str) -> Path | None:
        self._key(key)
        return None

    def close(self) -> None:
        self._client.close()


def translate(exc: ClientError, key: str) -> Exception:
    """An S3 error answer as FileNotFoundError (a missing object) or a StorageError."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = error.get("Message") or code
    if code == "NoSuchBucket" or (not key and code in MISSING_OBJECT):
        return NoSuchBucket("no such bucket: create it, or name another in the URL")
    if code in MISSING_OBJECT:
        return FileNotFoundError(f"no object {key!r}")
    if code in DENIED or status == 403:
        why = "" if code.isdigit() else f" ({code})"
        return StorageAccessDenied(f"access denied{why}: check AWS_ACCESS_KEY_ID, "
                                   "AWS_SECRET_ACCESS_KEY and the bucket's permissions")
    if status is not None and status >= 500:
        return StorageUnreachable(f"the store failed ({status} {code}: {message})")
    return StorageError(f"{code}: {message}")
