"""The library's management API: list/search, modify, delete, expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import record_all_of, wait_for
from livetape_harness.server import LiveServer, ServerFactory


def call(server: LiveServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.secret_key}"}
    return httpx.request(method, f"{server.url}{path}", headers=headers, timeout=30, **kwargs)


def listed(server: LiveServer, **params: Any) -> list[str]:
    reply = call(server, "GET", "/v1/vod/files", params=params)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["total_count"] >= len(body["file_set"])
    return [f["file_name"] for f in body["file_set"]]


async def test_search_modify_delete(start_server: ServerFactory, backend: str) -> None:
    server = start_server(backend)
    maths = call(server, "POST", "/v1/vod/classes", json={"name": "maths"}).json()["class_id"]
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (short_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5),
                                             "math-short", tags=["math"], class_id=maths)
        (long_id,), (long_file,) = await record_all_of(
            server, api, EncodedMedia.synthetic(5.0), "art-long", tags=["art", "math"])
    before = datetime.now(UTC)

    assert listed(server) == ["art-long", "math-short"]  # newest first by default
    assert listed(server, order="asc") == ["math-short", "art-long"]
    assert listed(server, order_by="size", order="desc") == ["art-long", "math-short"]
    assert listed(server, name_prefix="math") == ["math-short"]
    assert listed(server, tags="math") == ["art-long", "math-short"]
    assert listed(server, tags="math,art") == ["art-long"]
    assert listed(server, class_id=maths) == ["math-short"]
    assert listed(server, file_ids=f"{short_id},{long_id}", page_size=1) == ["art-long"]
    assert listed(server, file_ids=long_id, status=2, user_id="alice", room_id="room-1") == [
        "art-long"]
    assert listed(server, **{"to": (before - timedelta(hours=1)).isoformat()}) == []
    assert listed(server, page_no=2, page_size=1) == ["math-short"]
    check_exact_tags(server, short_id, "math-short")

    arts = call(server, "POST", "/v1/vod/classes", json={"name": "arts"}).json()["class_id"]
    changed = call(server, "PATCH", f"/v1/vod/files/{long_id}", json={
        "file_name": "art-renamed", "description": "week 1", "class_id": arts, "tags": ["x"]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["file_name"], body["description"], body["class_id"], body["tags"]) == (
        "art-renamed", "week 1", arts, ["x"])
    assert body["expire_time"] == -1
    assert (await_play_info(server, "art-renamed"))[0]["file_id"] == long_id
    for bad in ({"file_name": ""}, {"file_name": "a/b"}, {"class_id": -1},
                {"expire_time": "2030-01-01T00:00:00"}, {"tags": "x"}):
        refused = call(server, "PATCH", f"/v1/vod/files/{long_id}", json=bad)
        assert (refused.status_code, refused.json()["code"]) == (400, 1000), bad

    url = long_file["play_set"][0]["url"]
    assert httpx.head(url).status_code == 200
    objects = server.data_dir / "storage" / server.app_id / long_id
    assert any(objects.iterdir())
    assert call(server, "DELETE", f"/v1/vod/files/{long_id}").json()["code"] == 0
    assert not objects.exists()
    assert httpx.get(url).status_code == 404
    assert call(server, "GET", f"/v1/vod/files/{long_id}").status_code == 404
    again = call(server, "DELETE", f"/v1/vod/files/{long_id}")
    assert (again.status_code, again.json()["code"]) == (404, 10008)
    assert listed(server) == ["math-short"]


# tags whose characters meant something to the old LIKE match on the JSON text: wildcards,
# quotes and backslashes (escaped in JSON), non-ASCII (\uXXXX in JSON), a comma and quotes
LOOKALIKES = ["axb", "500", "5", "cafe", "say", "hi", "y", "u6570"]
TRICKY = ["50%", "a_b", 'say "hi"', "数学", "café", "back\\slash", 'x", "y']


def check_exact_tags(server: LiveServer, file_id: str, name: str) -> None:
    """The tags filter matches whole tags exactly, whatever their characters."""
    def set_tags(tags: list[str]) -> None:
        reply = call(server, "PATCH", f"/v1/vod/files/{file_id}", json={"tags": tags})
        assert reply.status_code == 200 and reply.json()["tags"] == tags, reply.text

    set_tags(LOOKALIKES)
    for tag in ("a_b", "5%", "50%", "%", "_", "cafe%", 'say "hi"', "数学", "café"):
        assert listed(server, tags=tag) == [], tag
    set_tags(TRICKY)
    for tag in TRICKY[:-1]:  # the last holds a comma: the filter's separator
        assert listed(server, tags=tag) == [name], tag
    for tag in ("5%", "a%", "%", "_", "a_", "cafe", "say", "hi", "数", "y", "back", '"y',
                "back\\\\slash"):
        assert listed(server, tags=tag) == [], tag
    assert listed(server, tags="50%,数学,café") == [name]
    assert listed(server, tags="50%,500") == []
    set_tags(["math"])


def await_play_info(server: LiveServer, name: str) -> list[dict[str, Any]]:
    reply = call(server, "GET", "/v1/vod/play-info", params={"file_name": name})
    files: list[dict[str, Any]] = reply.json()["file_set"]
    return files


async def test_other_apps_cannot_touch_the_files(server: LiveServer, tmp_path: Path) -> None:
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "mine")
    _, other_key = server.create_app("other")
    headers = {"Authorization": f"Bearer {other_key}"}
    base = f"{server.url}/v1/vod/files"
    assert httpx.get(base, headers=headers).json()["total_count"] == 0
    for method in ("GET", "PATCH", "DELETE"):
        reply = httpx.request(method, f"{base}/{file_id}", headers=headers,
                              json={"description": "x"} if method == "PATCH" else None)
        assert (reply.status_code, reply.json()["code"]) == (404, 10008), method
    assert listed(server) == ["mine"]


async def test_expired_files_are_swept(start_server: ServerFactory) -> None:
    server = start_server(expiry_sweep_seconds=0.3)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (gone_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "gone")
        (kept_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "kept")
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    assert call(server, "PATCH", f"/v1/vod/files/{gone_id}",
                json={"expire_time": soon}).status_code == 200
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert call(server, "PATCH", f"/v1/vod/files/{kept_id}",
                json={"expire_time": later}).status_code == 200

    async def swept() -> bool:
        return call(server, "GET", f"/v1/vod/files/{gone_id}").status_code == 404

    await wait_for(swept, timeout=10)
    await asyncio.sleep(0.5)
    assert listed(server) == ["kept"]
    assert not (server.data_dir / "storage" / server.app_id / gone_id).exists()
