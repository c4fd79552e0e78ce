"""Nothing recorded is lost while the object store is away (storage/spool.py).

A real SeaweedFS is killed (kill -9 of every weed component) in the middle of a recording
that makes a file every few seconds, and started again a minute later: every file lands in
the bucket once, byte-identical to what was spooled, and played from the node meanwhile. A
livetape killed with -9 while its spool holds files resumes the uploads when it comes back.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.library.files import UPLOAD_PENDING
from livetape_harness.flow import publishing, wait_for
from livetape_harness.media_checks import probe
from livetape_harness.seaweed import SeaweedS3
from livetape_harness.server import LiveServer, ServerFactory

SEGMENT_SECONDS = 4
OUTAGE_SECONDS = 60.0


async def files_of(api: LivetapeClient, file_name: str) -> list[dict[str, Any]]:
    """The files listed now (a file may land or go between play-info's count and its list,
    which the harness's strict helper would take for an error)."""
    info = await api.play_info(file_name, page_size=100)
    assert info["code"] == 0, info
    files: list[dict[str, Any]] = info["file_set"]
    return files


def spooled(server: LiveServer) -> dict[str, str]:
    """sha256 of every file waiting in the server's spool, by storage key."""
    root = server.data_dir / "spool"
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*.mp4") if p.is_file()} if root.is_dir() else {}


def bucket(store: SeaweedS3, prefix: str) -> dict[str, str]:
    """sha256 of every original (f0.mp4) in the bucket under ``prefix``, by storage key."""
    client: Any = store.client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/f0.mp4"):
                body = client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
                found[key.removeprefix(f"{prefix}/")] = hashlib.sha256(body).hexdigest()
    return found


@pytest.fixture
def store(tmp_path: Path) -> Any:
    made = SeaweedS3(tmp_path / "s3").start()
    yield made
    made.kill()


def on_store(start_server: ServerFactory, store: SeaweedS3, monkeypatch: pytest.MonkeyPatch,
             prefix: str) -> LiveServer:
    for name, value in store.env.items():
        monkeypatch.setenv(name, value)
    return start_server(storage_url=store.storage_url(prefix), segment_seconds=SEGMENT_SECONDS,
                        upload_retry_seconds=0.5, upload_retry_max_seconds=2,
                        idle_timeout_seconds=120, media_lookup_seconds=0)


async def all_landed(api: LivetapeClient, server: LiveServer, name: str) -> list[dict[str, Any]]:
    files = await files_of(api, name)
    waiting = [f for f in files if f["status_reason"] == UPLOAD_PENDING]
    return files if files and not waiting and not spooled(server) else []


async def test_a_minute_without_the_store_loses_nothing(
    start_server: ServerFactory, store: SeaweedS3, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server = on_store(start_server, store, monkeypatch, "outage")
    media = EncodedMedia.synthetic(6.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, media, loop=True):
            await api.start_recording("room-1", "take", user_id="alice")
            await wait_for(lambda: files_of(api, "take"), timeout=30)  # the first file landed
            store.kill()
            seen: dict[str, str] = {}
            deleted: str | None = None
            loop = asyncio.get_running_loop()
            until = loop.time() + OUTAGE_SECONDS
            while loop.time() < until:
                seen.update(spooled(server))
                files = await files_of(api, "take")
                waiting = [f for f in files if f["status_reason"] == UPLOAD_PENDING]
                if len(waiting) >= 2 and deleted is None:
                    # a pending file plays from this node
                    url = waiting[0]["play_set"][0]["url"]
                    async with httpx.AsyncClient() as http:
                        played = await http.get(url, headers={"Range": "bytes=0-99"})
                    assert played.status_code == 206 and len(played.content) == 100
                    # and one deleted while it waits never reaches the store
                    deleted = waiting[1]["file_id"]
                    async with httpx.AsyncClient(base_url=server.url) as http:
                        gone = await http.delete(
                            f"/v1/vod/files/{deleted}",
                            headers={"Authorization": f"Bearer {server.secret_key}"})
                    assert gone.status_code in (200, 204), gone.text
                await asyncio.sleep(1.0)
            assert len(seen) >= OUTAGE_SECONDS / SEGMENT_SECONDS - 3, seen  # it kept recording
            assert deleted is not None
            # in a thread: the publisher runs on this loop (a restart takes seconds, past
            # LIVETAPE_DISCONNECT_GRACE_SECONDS on a busy host)
            await asyncio.to_thread(store.start)
            await asyncio.sleep(2 * SEGMENT_SECONDS)
            await api.stop_recording("room-1", user_id="alice")
        files = await wait_for(lambda: all_landed(api, server, "take"), timeout=120, interval=1)

        async def covered() -> bool:  # the cover jobs waited for the store, none failed
            listed = await files_of(api, "take")
            return all(f["image_url"] for f in listed)

        await wait_for(covered, timeout=120, interval=1)
        states = {j["job_id"]: j["state"] for j in await api.list_jobs()
                  if j["file_id"] != deleted}  # the deleted file's job had nothing to do
        assert states and set(states.values()) == {"done"}, states

    stored = bucket(store, "outage")
    keys = {f"{server.app_id}/{f['file_id']}/f0.mp4" for f in files}
    assert set(stored) == keys  # each file once, nothing else (not the deleted one)
    assert f"{server.app_id}/{deleted}/f0.mp4" not in stored
    for key, digest in seen.items():  # byte-identical to what waited in the spool
        if key in stored:
            assert stored[key] == digest, key
    durations = sorted((f["create_time"], f["duration"]) for f in files)
    assert all(d >= SEGMENT_SECONDS - 1.5 for _, d in durations[:-1]), durations
    total = sum(d for _, d in durations)
    assert total >= OUTAGE_SECONDS - 2 * SEGMENT_SECONDS, durations  # no gap lost
    target = tmp_path / "last.mp4"
    async with httpx.AsyncClient() as http:  # and it plays from the store now
        last = await http.get(files[-1]["play_set"][0]["url"], follow_redirects=True)
    assert last.status_code == 200
    target.write_bytes(last.content)
    assert probe(target)["video"]["codec"] == "h264"


async def test_a_server_killed_with_a_full_spool_uploads_after_restart(
    start_server: ServerFactory, store: SeaweedS3, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = on_store(start_server, store, monkeypatch, "killed")
    media = EncodedMedia.synthetic(6.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, media, loop=True):
            await api.start_recording("room-1", "crash", user_id="alice")

            async def one_stored() -> list[dict[str, Any]]:
                return [f for f in await files_of(api, "crash")
                        if f["status_reason"] != UPLOAD_PENDING]

            first = (await wait_for(one_stored, timeout=30))[0]["file_id"]
            store.kill()
            # deleted while the store is away: its objects go once the store is back, even
            # though the server is killed before then
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                gone = await http.delete(f"/v1/vod/files/{first}",
                                         headers={"Authorization": f"Bearer {server.secret_key}"})
            assert gone.status_code in (200, 204), gone.text
            async def three_waiting() -> bool:
                return len(spooled(server)) >= 3

            await wait_for(three_waiting, timeout=60, interval=1)
            seen = spooled(server)
            server.kill()  # kill -9 while the spool holds files
        store.start()
        server.start()  # resumes the uploads (and recovers the interrupted recording)
        files = await wait_for(lambda: all_landed(api, server, "crash"), timeout=120,
                               interval=1)
    stored = bucket(store, "killed")
    async def first_deleted() -> bool:
        return f"{server.app_id}/{first}/f0.mp4" not in bucket(store, "killed")

    await wait_for(first_deleted, timeout=60, interval=1)
    stored = bucket(store, "killed")
    assert set(stored) == {f"{server.app_id}/{f['file_id']}/f0.mp4" for f in files}
    for key, digest in seen.items():
        assert stored[key] == digest, key
    assert "resuming the deletion" in server.log_text()
