"""One contract for every storage back end: the local folder and S3 (SeaweedFS, a real S3
server that checks signatures). Each test runs on both and checks what callers rely on:
bytes, sizes, ranges, missing keys, delete_prefix counts, refused keys, presigned URLs."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from livetape.storage import InvalidKey, LocalStorage, Storage, StorageError
from livetape.storage.location import parse_storage_url
from livetape.storage.s3 import S3Storage
from livetape_harness.seaweed import SeaweedS3

from .test_storage import ESCAPING

MiB = 1024 * 1024
StorageMaker = Callable[..., Storage]


@pytest.fixture(params=["local", "s3"])
def make_storage(request: pytest.FixtureRequest, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch, s3_prefix: str) -> StorageMaker:
    """make_storage(**s3_options) -> the back end under test (S3: a prefix of its own)."""
    made: list[Storage] = []

    def make(**options: int) -> Storage:
        if request.param == "local":
            store: Storage = LocalStorage(tmp_path / "store")
        else:
            seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
            for name, value in seaweed.env.items():
                monkeypatch.setenv(name, value)
            store = S3Storage(parse_storage_url(seaweed.storage_url(s3_prefix)), **options)
        made.append(store)
        return store

    request.addfinalizer(lambda: [store.close() for store in made])
    return make


@pytest.fixture
def storage(make_storage: StorageMaker) -> Storage:
    return make_storage()


def source(tmp_path: Path, data: bytes, name: str = "source.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def collect(storage: Storage, key: str, first: int, last: int, chunk: int) -> list[bytes]:
    return [part async for part in storage.stream(key, first, last, chunk)]


async def test_objects_go_in_and_read_back(storage: Storage, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40  # 10240 bytes, each position distinct mod 256
    moved = source(tmp_path, data)
    assert await storage.put("app/f1/f0.mp4", moved) == len(data)
    assert not moved.exists()  # the source is consumed on every back end
    copy = await storage.download("app/f1/f0.mp4", tmp_path / "work" / "copy.mp4")
    assert copy.read_bytes() == data
    assert await storage.size("app/f1/f0.mp4") == len(data)
    info = await storage.stat("app/f1/f0.mp4")
    assert info is not None and info.size == len(data)
    assert info.etag.startswith('"') and info.etag.endswith('"')
    assert abs(info.mtime - time.time()) < 120
    assert await storage.read_bytes("app/f1/f0.mp4") == data
    assert await storage.read_bytes("app/f1/f0.mp4", 300, 309) == data[300:310]
    assert await storage.read_bytes("app/f1/f0.mp4", 10000) == data[10000:]
    assert await storage.read_bytes("app/f1/f0.mp4", 20000) == b""  # past the end
    parts = await collect(storage, "app/f1/f0.mp4", 100, 5099, 1024)
    assert b"".join(parts) == data[100:5100]
    assert max(len(p) for p in parts) <= 1024 and len(parts) >= 5
    assert b"".join(await collect(storage, "app/f1/f0.mp4", 0, len(data) - 1, 4096)) == data

    assert await storage.put("app/f1/f0.mp4", source(tmp_path, b"new")) == 3  # replaced
    assert await storage.read_bytes("app/f1/f0.mp4") == b"new"
    assert (await storage.stat("app/f1/f0.mp4")).size == 3  # type: ignore[union-attr]


async def test_missing_objects(storage: Storage, tmp_path: Path) -> None:
    assert await storage.size("app/none.mp4") is None
    assert await storage.stat("app/none.mp4") is None
    assert storage.local_path("app/none.mp4") is None
    with pytest.raises(FileNotFoundError):
        await storage.download("app/none.mp4", tmp_path / "copy")
    with pytest.raises(FileNotFoundError):
        await storage.read_bytes("app/none.mp4")
    with pytest.raises(FileNotFoundError):
        await collect(storage, "app/none.mp4", 0, 10, 1024)
    await storage.delete("app/none.mp4")  # gone already: no error
    assert await storage.delete_prefix("app/none/") == 0


async def test_folders_are_not_objects(storage: Storage, tmp_path: Path) -> None:
    await storage.put("app/f1/f0.mp4", source(tmp_path, b"x"))
    for folder in ("app/f1", "app"):
        assert await storage.stat(folder) is None and await storage.size(folder) is None
        with pytest.raises(FileNotFoundError):
            await storage.download(folder, tmp_path / "copy")


async def test_delete_and_delete_prefix_counts(storage: Storage, tmp_path: Path) -> None:
    keys = ("app/f1/f0.mp4", "app/f1/hls/0/a.ts", "app/f1/hls/0/b.ts", "app/f10/f0.mp4",
            "app/f2/f0.mp4")
    for key in keys:
        await storage.put(key, source(tmp_path, key.encode()))
    await storage.delete("app/f2/f0.mp4")
    assert await storage.stat("app/f2/f0.mp4") is None
    with pytest.raises(ValueError, match="end the prefix"):
        await storage.delete_prefix("app/f1")  # would take app/f10/ along on S3
    assert await storage.delete_prefix("app/f1/hls/") == 2
    assert await storage.delete_prefix("app/f1/") == 1
    assert await storage.stat("app/f1/f0.mp4") is None
    assert await storage.read_bytes("app/f10/f0.mp4") == b"app/f10/f0.mp4"  # a sibling stays
    assert await storage.delete_prefix("app/f1/") == 0


async def test_many_objects_under_a_prefix(make_storage: StorageMaker, tmp_path: Path) -> None:
    """More keys than one listing page holds on S3 (1000): every one is deleted."""
    storage = make_storage()
    count = 1005
    for start in range(0, count, 50):  # 50 at a time: a second or so on SeaweedFS
        await asyncio.gather(*(
            storage.put(f"app/many/hls/0/seg_{index:05d}.ts",
                        source(tmp_path, b"s", f"seg{index}"))
            for index in range(start, min(start + 50, count))))
    assert await storage.delete_prefix("app/many/") == count
    assert await storage.stat("app/many/hls/0/seg_00000.ts") is None


async def test_keys_that_are_not_plain_paths_are_refused(storage: Storage,
                                                          tmp_path: Path) -> None:
    moved = tmp_path / "source.bin"
    for key in ESCAPING:
        moved.write_bytes(b"x")
        with pytest.raises(InvalidKey):
            storage.local_path(key)
        with pytest.raises(InvalidKey):
            await storage.stat(key)
        with pytest.raises(InvalidKey):
            await storage.size(key)
        with pytest.raises(InvalidKey):
            await storage.read_bytes(key)
        with pytest.raises(InvalidKey):
            await collect(storage, key, 0, 1, 1)
        with pytest.raises(InvalidKey):
            await storage.presign(key, 60, "video/mp4")
        with pytest.raises(InvalidKey):
            await storage.delete(key)
        with pytest.raises(InvalidKey):
            await storage.download(key, tmp_path / "copy")
        with pytest.raises(InvalidKey):
            await storage.put(key, moved)
        assert moved.exists()  # refused before anything was moved
    for prefix in ("../", "app/../../", "/", "app//"):
        with pytest.raises(InvalidKey):
            await storage.delete_prefix(prefix)


async def test_presigned_urls(storage: Storage, tmp_path: Path) -> None:
    """S3: the URL gets the object (ranges too) as the type asked for, a tampered or expired
    one gets 403. A local folder has none: livetape serves it itself."""
    data = os.urandom(5000)
    await storage.put("app/f1/f0.mp4", source(tmp_path, data))
    url = await storage.presign("app/f1/f0.mp4", 60, "video/mp4")
    if isinstance(storage, LocalStorage):
        assert url is None
        return
    assert url is not None
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "video/mp4"
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == "bytes 100-199/5000"

    scheme, netloc, path, query, _ = urlsplit(url)
    other = urlunsplit((scheme, netloc, path.replace("f0.mp4", "f1.mp4"), query, ""))
    assert httpx.get(other).status_code == 403  # the signature covers the key
    params = dict(parse_qsl(query))
    params["X-Amz-Expires"] = "86400"
    longer = urlunsplit((scheme, netloc, path, urlencode(params), ""))
    assert httpx.get(longer).status_code == 403  # and its lifetime

    short = await storage.presign("app/f1/f0.mp4", 1, "video/mp4")
    assert short is not None
    time.sleep(2.1)
    assert httpx.get(short).status_code == 403  # expired


async def test_large_objects_go_up_in_parts(make_storage: StorageMaker, tmp_path: Path) -> None:
    storage = make_storage(multipart_threshold=5 * MiB, part_size=5 * MiB)
    data = os.urandom(11 * MiB)
    assert await storage.put("app/big/f0.mp4", source(tmp_path, data)) == len(data)
    info = await storage.stat("app/big/f0.mp4")
    assert info is not None and info.size == len(data)
    if isinstance(storage, S3Storage):
        assert info.etag.endswith('-3"')  # a multipart upload's ETag: 3 parts of 5 MiB
    copy = await storage.download("app/big/f0.mp4", tmp_path / "copy.mp4")
    assert copy.read_bytes() == data
    middle = 5 * MiB - 10
    assert await storage.read_bytes("app/big/f0.mp4", middle, middle + 19) == \
        data[middle:middle + 20]  # across a part boundary


async def test_the_start_up_check(storage: Storage, tmp_path: Path) -> None:
    await storage.check()  # reachable and usable
    if isinstance(storage, LocalStorage):
        blocked = tmp_path / "not-a-folder"
        blocked.write_text("a file where the folder should be")
        with pytest.raises(StorageError, match="not-a-folder"):
            await LocalStorage(blocked / "store").check()


async def test_prefixes_keep_stores_apart(seaweed: SeaweedS3, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two S3 stores on one bucket under different prefixes see only their own keys."""
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    one = S3Storage(parse_storage_url(seaweed.storage_url("one/a")))
    two = S3Storage(parse_storage_url(seaweed.storage_url("two")))
    await one.put("app/f/f0.mp4", source(tmp_path, b"one"))
    assert await two.stat("app/f/f0.mp4") is None
    assert await two.delete_prefix("app/") == 0
    assert await one.read_bytes("app/f/f0.mp4") == b"one"
    client = seaweed.client()
    listed = client.list_objects_v2(Bucket=seaweed.bucket, Prefix="one/")  # type: ignore[attr-defined]
    assert [o["Key"] for o in listed["Contents"]] == ["one/a/app/f/f0.mp4"]
    assert await one.delete_prefix("app/") == 1
