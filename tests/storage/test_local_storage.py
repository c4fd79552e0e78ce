"""LocalStorage and its key check, unit by unit (no server): objects in, out and away; keys
that are not plain relative paths, folders, and links out of the root are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from livetape.storage import InvalidKey, LocalStorage, check_key


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def source(tmp_path: Path, data: bytes, name: str = "source.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("key", ["a", "app/file/f0.mp4", "app/file/hls/seg-00001.ts",
                                 "app/file name with spaces.mp4", "app/..hidden", "app/…/ü.mp4"])
def test_plain_relative_keys_pass(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", ".", "..", "../x", "a/../b", "a/./b", "a//b", "/a",
                                 "a/", "a\\b", "a/b\x00", "a/\tb", "a\x1f"])
def test_other_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


def test_a_prefix_may_end_in_one_slash_only() -> None:
    assert check_key("app/file/", prefix=True) == "app/file/"
    assert check_key("app", prefix=True) == "app"
    for prefix in ("app//", "/", "../", "app/../", "//"):
        with pytest.raises(InvalidKey):
            check_key(prefix, prefix=True)


async def test_put_moves_the_file_in_and_it_reads_back(storage: LocalStorage,
                                                       tmp_path: Path) -> None:
    moved = source(tmp_path, b"video bytes")
    assert await storage.put("app/f1/f0.mp4", moved) == 11
    assert not moved.exists()  # consumed: a rename, never copied through memory
    path = storage.local_path("app/f1/f0.mp4")
    assert path == storage.root / "app/f1/f0.mp4" and path.read_bytes() == b"video bytes"
    assert await storage.size("app/f1/f0.mp4") == 11
    assert await storage.download("app/f1/f0.mp4", tmp_path / "copy") == path  # read in place

    assert await storage.put("app/f1/f0.mp4", source(tmp_path, b"new")) == 3  # replaced
    assert path.read_bytes() == b"new"


async def test_missing_objects(storage: LocalStorage, tmp_path: Path) -> None:
    assert await storage.size("app/none.mp4") is None
    assert storage.local_path("app/none.mp4") is None
    with pytest.raises(FileNotFoundError):
        await storage.download("app/none.mp4", tmp_path / "copy")
    await storage.delete("app/none.mp4")  # gone already: no error
    assert await storage.delete_prefix("app/none/") == 0


async def test_folders_are_not_objects(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.put("app/f1/f0.mp4", source(tmp_path, b"x"))
    assert storage.local_path("app/f1") is None and storage.local_path("app") is None
    with pytest.raises(FileNotFoundError):
        await storage.download("app/f1", tmp_path / "copy")


async def test_delete_and_delete_prefix(storage: LocalStorage, tmp_path: Path) -> None:
    for key in ("app/f1/f0.mp4", "app/f1/hls/a.ts", "app/f1/hls/b.ts", "app/f2/f0.mp4"):
        await storage.put(key, source(tmp_path, b"x"))
    await storage.delete("app/f2/f0.mp4")
    assert await storage.size("app/f2/f0.mp4") is None
    with pytest.raises(ValueError, match="end the prefix"):
        await storage.delete_prefix("app/f1")  # a prefix names a whole folder
    assert await storage.delete_prefix("app/f1/") == 3
    assert not (storage.root / "app/f1").exists()


async def test_links_out_of_the_root_are_refused(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("not stored")
    await storage.put("app/f1/f0.mp4", source(tmp_path, b"x"))
    (storage.root / "app/f1/linked.txt").symlink_to(secret)  # a file link
    (storage.root / "app/elsewhere").symlink_to(outside, target_is_directory=True)  # a folder
    for key in ("app/f1/linked.txt", "app/elsewhere/secret.txt"):
        with pytest.raises(InvalidKey, match="escapes"):
            storage.local_path(key)
        with pytest.raises(InvalidKey):
            await storage.size(key)
        with pytest.raises(InvalidKey):
            await storage.download(key, tmp_path / "copy")
        with pytest.raises(InvalidKey):
            await storage.delete(key)
        with pytest.raises(InvalidKey):
            await storage.put(key, source(tmp_path, b"overwrite"))
    with pytest.raises(InvalidKey):
        await storage.delete_prefix("app/elsewhere/")
    assert secret.read_text() == "not stored" and outside.is_dir()


async def test_a_link_inside_the_root_is_followed(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.put("app/f1/f0.mp4", source(tmp_path, b"abc"))
    (storage.root / "app/alias").symlink_to(storage.root / "app/f1")
    assert await storage.size("app/alias/f0.mp4") == 3
