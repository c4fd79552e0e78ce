"""LIVETAPE_LOG_FORMAT=json: every line the server writes is one JSON object, and the lines
a request causes carry its request id (the client's X-Request-Id, sent back), its app and
room; a recorder's lines carry the recording id."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import publishing
from livetape_harness.server import ServerFactory


async def test_json_lines_with_the_request_and_recording(start_server: ServerFactory) -> None:
    server = start_server(log_format="json", segment_seconds=2)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        answer = await http.get("/healthz", headers={"X-Request-Id": "probe-1"})
        assert answer.headers["x-request-id"] == "probe-1"
        fresh = await http.get("/healthz", headers={"X-Request-Id": "bad id\twith tab"})
        assert fresh.headers["x-request-id"] != "bad id\twith tab"  # a new one instead
        assert len(fresh.headers["x-request-id"]) == 32
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, EncodedMedia.synthetic(3.0), loop=True):
            recording_id = await api.start_recording("room-1", "logged", user_id="alice")
            await asyncio.sleep(3)  # a file opened, then cut
            await api.stop_recording("room-1", user_id="alice")
    lines = [line for line in server.log_text().splitlines() if line.strip()]
    records: list[dict[str, Any]] = []
    for line in lines:
        if not line.startswith("{"):
            continue  # the harness's own lines around the process
        records.append(json.loads(line))
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    published = [r for r in records if "publishes camera" in r["message"]]
    assert published and published[0]["app_id"] == server.app_id
    assert published[0]["room_id"] == "room-1" and published[0]["request_id"]
    recorder = [r for r in records if "segment 1 opened" in r["message"]]
    assert recorder and recorder[0].get("recording_id") == recording_id, recorder
    access = [r for r in records if r["logger"] == "uvicorn.access" and
              r.get("request_id") == "probe-1"]
    assert access, "uvicorn's access line carries the request id"
