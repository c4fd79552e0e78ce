"""Every code of the error table that livetape can produce, triggered through the HTTP API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.errors import Catalogue
from livetape_harness.flow import publishing
from livetape_harness.server import LiveServer


def post_record(server: LiveServer, body: Any, *, bearer: str | None = None,
                raw: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer or server.secret_key}"}
    if raw is not None:
        return httpx.post(f"{server.url}/v1/record", content=raw, headers=headers)
    return httpx.post(f"{server.url}/v1/record", json=body, headers=headers)


def assert_error(response: httpx.Response, code: int, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["message"] and body["hint"], body
    return body


START = {"operation": "start", "room_id": "room-1", "user_id": "alice", "file_name": "f"}
STOP = {"operation": "stop", "room_id": "room-1", "user_id": "alice"}


def test_request_parse_errors(server: LiveServer) -> None:
    httpx.post(f"{server.url}/v1/rooms", json={"room_id": "room-1"},
               headers={"Authorization": f"Bearer {server.secret_key}"}).raise_for_status()
    assert_error(post_record(server, None, raw=b""), 30000001, 400)
    assert_error(post_record(server, None, raw=b"   "), 30000001, 400)
    assert_error(post_record(server, None, raw=b"{not json"), 30000000, 400)
    assert_error(post_record(server, None, raw=b"[1, 2]"), 30000000, 400)
    assert_error(post_record(server, {"room_id": "room-1"}), 30000003, 400)
    assert_error(post_record(server, {**START, "operation": "pause"}), 30000003, 400)
    assert_error(post_record(server, {**START, "src_type": "desktop"}), 30000004, 400)
    no_name = {k: v for k, v in START.items() if k != "file_name"}
    assert_error(post_record(server, no_name), 30000002, 400)
    assert_error(post_record(server, {**START, "file_name": ""}), 30000002, 400)
    too_long = assert_error(post_record(server, {**START, "file_name": "x" * 41}), 30000000, 400)
    assert "40" in too_long["message"]
    assert_error(post_record(server, {**START, "record_type": "film"}), 30000000, 400)
    assert_error(post_record(server, {**START, "tags": "math"}), 30000000, 400)
    assert_error(post_record(server, {**START, "class_id": "three"}), 30000000, 400)
    assert_error(post_record(server, {**START, "transcode": "yes"}), 30000000, 400)
    without_user = {k: v for k, v in START.items() if k != "user_id"}
    assert_error(post_record(server, without_user), 30000000, 400)


def test_room_and_user_errors(server: LiveServer) -> None:
    assert_error(post_record(server, {**START, "room_id": "nowhere"}), 30000410, 404)
    assert_error(post_record(server, {**STOP, "room_id": "nowhere"}), 30000410, 404)
    httpx.post(f"{server.url}/v1/rooms", json={"room_id": "room-1"},
               headers={"Authorization": f"Bearer {server.secret_key}"}).raise_for_status()
    assert_error(post_record(server, START), 30000411, 404)  # alice is not in the room
    assert_error(post_record(server, STOP), 30000412, 409)  # nothing was ever recorded


async def test_recording_state_errors(server: LiveServer) -> None:
    media = EncodedMedia.synthetic(3.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        no_record = await api.mint_token("alice", privileges=[])
        async with publishing(server, media, loop=True):
            # a user token without the record privilege: code 1, nothing recorded
            denied = post_record(server, {**START, "user_id": None}, bearer=no_record)
            assert_error(denied, Catalogue.NO_RECORD_PERMISSION.code, 403)
            assert (await api.get_room("room-1"))["recordings"] == []
            # an app whose VOD is not activated, or whose recording is off: code 1, with a
            # hint that says what to do; nothing recorded
            done = await asyncio.to_thread(server.cli_raw, "app", "vod", "deactivate",
                                           server.app_id)
            assert done.returncode == 0, done.stderr
            body = assert_error(post_record(server, START), 1, 403)
            assert "VOD is not activated" in body["message"] and "activate" in body["hint"]
            await api.app_settings(vod_activated=True, record_enabled=False)
            body = assert_error(post_record(server, START), 1, 403)
            assert "recording is off" in body["message"] and "record_enabled" in body["hint"]
            assert (await api.get_room("room-1"))["recordings"] == []
            assert (await api.play_info("f"))["total_count"] == 0
            settings = await api.app_settings(record_enabled=True)
            assert (settings["vod_activated"], settings["record_enabled"]) == (True, True)
            # alice publishes a camera, not a screen
            assert_error(post_record(server, {**START, "src_type": "screen"}), 30000411, 404)
            assert post_record(server, START).status_code == 200
            assert_error(post_record(server, START), 30000415, 409)
            assert post_record(server, STOP).status_code == 200
            assert_error(post_record(server, STOP), 30000412, 409)


async def test_two_person_rooms_refuse_recording(server: LiveServer) -> None:
    media = EncodedMedia.synthetic(2.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("pair-1", type="pair")
        async with publishing(server, media, room="pair-1", create_room=False, loop=True):
            room = await api.get_room("pair-1")
            assert room["type"] == "pair" and room["members"][0]["user_id"] == "alice"
            body = assert_error(
                post_record(server, {**START, "room_id": "pair-1"}), 30000416, 409
            )
            assert "two-person" in body["message"]
            assert (await api.get_room("pair-1"))["recordings"] == []


def test_error_table_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for kind in Catalogue.rows():
        assert f"| {kind.code} |" in readme, f"code {kind.code} missing from README"
