"""A trial's byte length read through the storage interface (an MP4 on S3, read with
ranged GETs by :class:`ObjectReader`) is the one read from the local file, and finding it
does not fetch the whole object."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import pytest

from livetape.playback.playlists import TrialIndex
from livetape.storage.location import parse_storage_url
from livetape.storage.object_reader import ObjectReader
from livetape.storage.s3 import S3Storage
from livetape_harness.seaweed import SeaweedS3
from tests.processing.test_processing import make_source


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("trial") / "f0.mp4", 10.0, width=640,
                       height=360)


async def test_trial_bytes_through_ranged_reads(recording: Path, seaweed: SeaweedS3,
                                                s3_prefix: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    storage = S3Storage(parse_storage_url(seaweed.storage_url(s3_prefix)))
    size = recording.stat().st_size
    copy = tmp_path / "upload.mp4"
    shutil.copy(recording, copy)
    await storage.put("app/f/f0.mp4", copy)
    loop = asyncio.get_running_loop()
    for seconds in (1, 3, 60):
        expected = TrialIndex().trial_bytes(recording, seconds)
        raw = ObjectReader(storage, "app/f/f0.mp4", size, loop, block=64 * 1024)
        got = await asyncio.to_thread(TrialIndex().trial_bytes_of, io.BufferedReader(raw),
                                      ("app/f/f0.mp4 etag", size), size, seconds)
        assert got == expected, seconds
        if seconds == 1:
            assert expected < size / 5
            assert raw.fetched < size / 2, (raw.fetched, size)  # not the whole object
    storage.close()


async def test_the_reader_reads_like_a_file(recording: Path, seaweed: SeaweedS3,
                                            s3_prefix: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    storage = S3Storage(parse_storage_url(seaweed.storage_url(s3_prefix)))
    data = recording.read_bytes()
    copy = tmp_path / "upload.mp4"
    shutil.copy(recording, copy)
    await storage.put("app/f/f0.mp4", copy)

    reader = ObjectReader(storage, "app/f/f0.mp4", len(data), asyncio.get_running_loop(),
                          block=1000)

    def read_around() -> None:  # in a thread, as PyAV reads it
        assert reader.read(10) == data[:10]
        reader.seek(2995)
        assert reader.read(10) == data[2995:3005]  # across a block boundary
        reader.seek(-5, io.SEEK_END)
        assert reader.read(100) == data[-5:] and reader.read(1) == b""
        reader.seek(100)
        reader.seek(50, io.SEEK_CUR)
        assert reader.tell() == 150 and reader.read(3) == data[150:153]

    await asyncio.to_thread(read_around)
    storage.close()
