"""Library categories: a tree per app with file counts; delete refuses unless asked to move."""

from __future__ import annotations

from typing import Any

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import record_all_of
from livetape_harness.server import LiveServer, ServerFactory


def call(server: LiveServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.secret_key}"}
    return httpx.request(method, f"{server.url}{path}", headers=headers, timeout=30, **kwargs)


def create(server: LiveServer, name: str, parent_id: int = 0) -> int:
    reply = call(server, "POST", "/v1/vod/classes", json={"name": name, "parent_id": parent_id})
    assert reply.status_code == 201, reply.text
    class_id: int = reply.json()["class_id"]
    return class_id


async def test_category_tree(start_server: ServerFactory, backend: str) -> None:
    server = start_server(backend)
    courses = create(server, "courses")
    math = create(server, "math", courses)
    art = create(server, "art", courses)
    duplicate = call(server, "POST", "/v1/vod/classes", json={"name": "math", "parent_id": courses})
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, 1002)
    orphan = call(server, "POST", "/v1/vod/classes", json={"name": "x", "parent_id": 999999})
    assert (orphan.status_code, orphan.json()["code"]) == (404, 10008)

    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (in_math,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "algebra",
                                            class_id=math)
        (loose,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "loose")
    moved = call(server, "PATCH", f"/v1/vod/files/{loose}", json={"class_id": art})
    assert moved.status_code == 200 and moved.json()["class_id"] == art
    missing = call(server, "PATCH", f"/v1/vod/files/{loose}", json={"class_id": 424242})
    assert (missing.status_code, missing.json()["code"]) == (404, 10008)

    tree = call(server, "GET", "/v1/vod/classes").json()
    assert tree["uncategorized_file_count"] == 0
    (top,) = tree["class_set"]
    assert (top["name"], top["file_count"], top["total_file_count"]) == ("courses", 0, 2)
    assert [(c["name"], c["file_count"]) for c in top["children"]] == [("math", 1), ("art", 1)]

    renamed = call(server, "PATCH", f"/v1/vod/classes/{art}", json={"name": "drawing"})
    assert renamed.json()["name"] == "drawing"

    refused = call(server, "DELETE", f"/v1/vod/classes/{courses}")
    assert (refused.status_code, refused.json()["code"]) == (409, 1002)
    assert "move_files=true" in refused.json()["message"]
    emptied = call(server, "DELETE", f"/v1/vod/classes/{math}", params={"move_files": "true"})
    assert emptied.json()["moved_files"] == 1
    assert call(server, "GET", f"/v1/vod/files/{in_math}").json()["class_id"] == courses
    gone = call(server, "DELETE", f"/v1/vod/classes/{courses}", params={"move_files": "true"})
    assert gone.json()["moved_files"] == 1
    tree = call(server, "GET", "/v1/vod/classes").json()
    assert [c["name"] for c in tree["class_set"]] == ["drawing"]  # moved up to the top level
    assert tree["uncategorized_file_count"] == 1

    _, other_key = server.create_app("other")
    foreign = httpx.delete(f"{server.url}/v1/vod/classes/{art}",
                           headers={"Authorization": f"Bearer {other_key}"})
    assert (foreign.status_code, foreign.json()["code"]) == (404, 10008)
    assert httpx.get(f"{server.url}/v1/vod/classes",
                     headers={"Authorization": f"Bearer {other_key}"}).json()["class_set"] == []
