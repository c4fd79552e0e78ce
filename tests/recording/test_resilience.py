"""What survives: a publisher that crashes (idle close) and a server killed with -9 (recovery)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.db.models import VodFile
from livetape.db.session import driver_url
from livetape_harness.flow import download, files_of, publisher_process, publishing, wait_for
from livetape_harness.media_checks import probe
from livetape_harness.server import LiveServer, ServerFactory

FPS = 30


async def test_idle_close_after_the_publisher_crashes(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(idle_timeout_seconds=2)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("room-1")
        token = await api.mint_token("bob")
        # a real client process, killed with -9: it sends nothing more, not even a DELETE
        async with publisher_process(server, token):
            recording_id = await api.start_recording("room-1", "crashy", user_id="bob")

            async def written() -> bool:
                state = await api.get_recording(recording_id)
                return bool(state.get("written", {}).get("video", 0) >= 3 * FPS)

            await wait_for(written, timeout=15)

        async def ended() -> dict[str, object] | None:
            state = await api.get_recording(recording_id)
            return state if state["state"] == "ended" else None

        state = await wait_for(ended, timeout=10)
        assert state["end_reason"] == "idle"
        try:
            await api.stop_recording("room-1", user_id="bob")
            raise AssertionError("stop after an idle close must fail")
        except ApiError as err:
            assert err.code == 30000413 and err.status == 409
            assert err.body["file_ids"] == state["file_ids"] and len(state["file_ids"]) == 1
            assert err.body["end_reason"] == "idle"
        entry = (await files_of(api, "crashy"))[0]
        path = await download(entry["play_set"][0]["url"], tmp_path / "crashy.mp4")
    info = probe(path)
    assert info["video"]["first_keyframe"] is True and "audio" in info
    assert info["duration"] >= 3.0  # everything received before the crash is kept


async def test_server_killed_mid_recording_recovers_the_file(
    start_server: ServerFactory, backend: str, tmp_path: Path
) -> None:
    server = start_server(backend)
    media = EncodedMedia.synthetic(20.0, fps=FPS)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, media):
            recording_id = await api.start_recording("room-1", "survivor", user_id="alice")

            async def written() -> int:
                state = await api.get_recording(recording_id)
                frames: int = state.get("written", {}).get("video", 0)
                return frames if frames >= 6 * FPS else 0

            frames_before_kill = await wait_for(written, timeout=20)
            server.kill()
        recorded_seconds = frames_before_kill / FPS
        # as if an earlier finalize of this segment had been cut off half-way: a row at
        # status -1 with its object already stored; recovery must not leave it beside the
        # file it makes
        stale = leave_half_stored_copy(server, recording_id)
        server.start()
        state = await api.get_recording(recording_id)
        assert state["state"] == "ended" and state["end_reason"] == "recovered"
        assert len(state["file_ids"]) == 1
        (entry,) = await files_of(api, "survivor")
        assert entry["status"] == 2 and not stale.exists()
        path = await download(entry["play_set"][0]["url"], tmp_path / "survivor.mp4")
    info = probe(path)
    assert info["video"]["first_keyframe"] is True and "audio" in info
    assert recorded_seconds - 2.0 <= info["duration"] <= recorded_seconds + 1.0
    assert "recovered 1 recording" in server.log_text()


def leave_half_stored_copy(server: LiveServer, recording_id: str) -> Path:
    """A status -1 library row for the first segment of ``recording_id`` and its stored object."""
    url = driver_url(server.database_url or f"sqlite:///{server.data_dir / 'livetape.db'}",
                     use_async=False)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        session.add(VodFile(
            file_id="stale1", app_id=server.app_id, file_name="survivor", status=-1,
            storage_key=f"{server.app_id}/stale1/f0.mp4", size=0, duration=0.0,
            recording_id=recording_id, segment_seq=1, room_id="room-1", user_id="alice",
            src_type="camera", class_id=0, tags=[], create_time=datetime.now(UTC)))
    engine.dispose()
    stored = server.data_dir / "storage" / server.app_id / "stale1" / "f0.mp4"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"half")
    return stored.parent
