"""Storage refuses keys that could leave its folder, whoever asks (defence in depth: the
file server checks object names first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from livetape.storage import InvalidKey, LocalStorage

ESCAPING = ["../outside.txt", "app/../../outside.txt", "/etc/hostname", "app//f0.mp4",
            "app/./f0.mp4", "app\\..\\..\\outside.txt", "app/f0.mp4\x00", "", "..",
            "app/f0.mp4/", "app/\nf0.mp4"]


async def test_local_storage_stays_in_its_folder(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    outside = tmp_path / "outside.txt"
    outside.write_text("not stored")
    source = tmp_path / "source.bin"
    for key in ESCAPING:
        source.write_bytes(b"x")
        with pytest.raises(InvalidKey):
            storage.local_path(key)
        with pytest.raises(InvalidKey):
            await storage.size(key)
        with pytest.raises(InvalidKey):
            await storage.delete(key)
        with pytest.raises(InvalidKey):
            await storage.download(key, tmp_path / "copy")
        with pytest.raises(InvalidKey):
            await storage.put(key, source)
    for prefix in ("../", "app/../../", "/", "app//"):
        with pytest.raises(InvalidKey):
            await storage.delete_prefix(prefix)
    assert source.exists() and outside.read_text() == "not stored"

    # a key that is fine on its face but reaches out through a link is refused too
    source.write_bytes(b"video")
    assert await storage.put("app/file/f0.mp4", source) == 5
    (tmp_path / "storage" / "app" / "file" / "cover.jpg").symlink_to(outside)
    with pytest.raises(InvalidKey):
        storage.local_path("app/file/cover.jpg")
    with pytest.raises(InvalidKey):
        await storage.delete("app/file/cover.jpg")
    assert outside.read_text() == "not stored"
    # folders are not objects; plain keys work
    assert storage.local_path("app/file") is None and storage.local_path("app") is None
    assert storage.local_path("app/file/f0.mp4") == tmp_path / "storage/app/file/f0.mp4"
    assert await storage.size("app/file/f0.mp4") == 5
    await storage.delete_prefix("app/file/")  # removes the link, not what it points to
    assert not (tmp_path / "storage/app/file").exists()
    assert outside.read_text() == "not stored"
