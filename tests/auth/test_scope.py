"""Every endpoint is scoped to its app: another app's key reads, plays, changes and deletes
nothing of this app's. The table below must name every operation of the OpenAPI document:
a new endpoint without a row here fails the test until someone decides how it is scoped."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import publishing, record_all_of, wait_for
from livetape_harness.server import LiveServer

# (method, path template) -> the request another app makes against this app's resources.
# "{...}" names are filled from this app's ids. A row is either "foreign" (must be refused:
# 401/403/404, and change nothing) or "own" (acts on the caller's own app: the response must
# not mention this app's ids).
FOREIGN: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/rooms/{room_id}"): {},
    ("DELETE", "/v1/rooms/{room_id}"): {},
    ("POST", "/v1/rooms/{room_id}/whip"): {"content": "v=0\r\nm=video 9 UDP 96\r\n",
                                           "as_user": True, "type": "application/sdp"},
    ("DELETE", "/v1/rooms/{room_id}/whip/{publication_id}"): {},
    # another app's alice cannot trickle candidates into this app's alice's session
    ("PATCH", "/v1/rooms/{room_id}/whip/{publication_id}"): {
        "content": "a=candidate:1 1 UDP 2015363327 192.0.2.10 43007 typ host\r\n",
        "as_user": True, "type": "application/trickle-ice-sdpfrag"},
    ("POST", "/v1/record"): {"json": {"operation": "stop", "room_id": "{room_id}",
                                      "user_id": "alice"}},
    ("GET", "/v1/recordings/{recording_id}"): {},
    ("PATCH", "/v1/vod/files/{file_id}"): {"json": {"file_name": "stolen"}},
    ("DELETE", "/v1/vod/files/{file_id}"): {},
    ("GET", "/v1/vod/files/{file_id}"): {},
    ("GET", "/v1/vod/files/{file_id}/play"): {},
    ("PATCH", "/v1/vod/classes/{class_id}"): {"json": {"name": "stolen"}},
    ("DELETE", "/v1/vod/classes/{class_id}"): {},
    ("POST", "/v1/vod/files/{file_id}/convert"): {"json": {}},
    ("POST", "/v1/vod/files/{file_id}/snapshots"): {"json": {"cover": True}},
    ("POST", "/v1/vod/files/{file_id}/watermark"): {},
    ("GET", "/v1/vod/jobs/{job_id}"): {},
    ("DELETE", "/v1/app/keys/{key_id}"): {},
    ("DELETE", "/v1/app/webhooks/{webhook_id}"): {},
    ("GET", "/v1/app/webhooks/{webhook_id}/deliveries"): {},
    ("POST", "/v1/app/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): {},
    ("GET", "/media/{app_id}/{file_id}/{path}"): {"signed_by_caller": True},
    ("HEAD", "/media/{app_id}/{file_id}/{path}"): {"signed_by_caller": True},
    # operator only: an app's key cannot top up any balance, its own included
    ("POST", "/v1/operator/apps/{app_id}/topup"): {"json": {"amount": "5", "ref": "stolen"}},
    ("GET", "/v1/operator/cluster/nodes"): {},  # the cluster's nodes: the operator's alone
    ("GET", "/v1/operator/cluster/nodes/{node_id}"): {},
    # a console sign-in with this app's id and the caller's own key
    ("POST", "/console/session"): {"json": {"app_id": "{app_id}", "secret_key": "{caller_key}"}},
}
OWN: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/tokens"): {"json": {"user_id": "alice"}},
    # credentials for the caller's own user (no TURN here: an empty list)
    ("GET", "/v1/ice-servers"): {"params": {"user_id": "alice"}},
    ("POST", "/v1/rooms"): {"json": {"room_id": "{room_id}"}},  # the caller's own room
    ("GET", "/v1/vod/play-info"): {"params": {"file_name": "scoped"}},
    ("GET", "/v1/vod/files"): {"params": {"file_ids": "{file_id}"}},
    ("GET", "/v1/vod/classes"): {},
    ("POST", "/v1/vod/classes"): {"json": {"name": "mine"}},
    ("GET", "/v1/vod/jobs"): {"params": {"file_id": "{file_id}"}},
    ("PUT", "/v1/vod/watermark"): {"content": b"not a png"},
    ("DELETE", "/v1/vod/watermark"): {},
    ("GET", "/v1/app"): {},
    ("PATCH", "/v1/app"): {"json": {}},
    ("GET", "/v1/app/keys"): {},
    ("GET", "/v1/billing/usage"): {},
    ("GET", "/v1/billing/balance"): {},
    ("GET", "/v1/billing/bills"): {},
    ("GET", "/v1/billing/plan"): {},
    ("PUT", "/v1/billing/plan"): {"json": {"mode": "package", "storage_gb": 1}},
    ("GET", "/v1/recordings"): {},  # while this app records: none of its recordings listed
    ("GET", "/console/session"): {},
    ("DELETE", "/console/session"): {},
    ("POST", "/v1/app/keys/rotate"): {"json": {"grace_seconds": 0}},
    # the caller's own webhooks and events (a public address: nothing is sent in the test)
    ("POST", "/v1/app/webhooks"): {"json": {"url": "http://93.184.215.14/hook",
                                            "events": ["file.expired"]}},
    ("GET", "/v1/app/webhooks"): {},
    ("GET", "/v1/events"): {},
}


def fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    return template


def signed_media(server: LiveServer, path: str, play_key: str) -> str:
    t = format(int(time.time()) + 600, "x")
    folder = path[: path.rfind("/") + 1]
    sign = hashlib.md5(f"{play_key}{folder}{t}".encode()).hexdigest()
    return f"{server.url}{path}?t={t}&sign={sign}"


async def test_no_endpoint_reaches_another_apps_resources(server: LiveServer) -> None:
    operations = {(m.upper(), p) for p, ops in httpx.get(f"{server.url}/openapi.json").json()[
        "paths"].items() for m in ops}
    unlisted = operations - set(FOREIGN) - set(OWN)
    assert not unlisted, f"add these endpoints to the scope table: {sorted(unlisted)}"

    other_id, other_key = server.create_app("other")
    async with LivetapeClient(server.url, secret_key=other_key) as other:
        other_play_key = (await other.app_settings())["play_key"]
        other_token = await other.mint_token("alice")
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        class_id = (await api._call("POST", "/v1/vod/classes", json={"name": "c"}))["class_id"]
        (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "scoped",
                                            class_id=class_id)
        info = await api.get_file(file_id)
        recording_id = info["recording_id"]
        job = await wait_for(lambda: first_job(api, file_id), timeout=30)
        key_id = (await api._call("GET", "/v1/app/keys"))["keys"][0]["key_id"]
        hook = await api.create_webhook("http://93.184.215.14/hook", ["file.expired"])
        async with publishing(server, EncodedMedia.synthetic(3.0), loop=True,
                              create_room=False):
            room = await api.get_room("room-1")
            live_id = await api.start_recording("room-1", "scoped-live", user_id="alice")
            live = (await api._call("GET", "/v1/recordings"))["recordings"]
            assert [r["recording_id"] for r in live] == [live_id], live
            ids = {"room_id": "room-1", "file_id": file_id, "class_id": str(class_id),
                   "recording_id": recording_id, "job_id": job["job_id"], "key_id": key_id,
                   "app_id": server.app_id, "path": "f0.mp4", "caller_key": other_key,
                   "node_id": "local", "webhook_id": hook["webhook_id"],
                   "delivery_id": "dlv_none",
                   "publication_id": room["members"][0]["streams"][0]["publication_id"]}
            with httpx.Client(timeout=30) as http:
                for (method, template), spec in FOREIGN.items():
                    path = fill(template, ids)
                    bearer = other_token if spec.get("as_user") else other_key
                    url = (signed_media(server, path, other_play_key)
                           if spec.get("signed_by_caller") else f"{server.url}{path}")
                    headers = {"Authorization": f"Bearer {bearer}"}
                    if "type" in spec:
                        headers["Content-Type"] = spec["type"]
                    reply = http.request(method, url, headers=headers,
                                         json=fill(spec.get("json"), ids),
                                         content=spec.get("content"))
                    assert reply.status_code in (401, 403, 404), (method, template, reply.text)
                for (method, template), spec in OWN.items():
                    reply = http.request(
                        method, f"{server.url}{fill(template, ids)}",
                        headers={"Authorization": f"Bearer {other_key}"},
                        json=fill(spec.get("json"), ids), content=spec.get("content"),
                        params=fill(spec.get("params"), ids))
                    assert reply.status_code < 500, (method, template, reply.text)
                    text = reply.text
                    for mine in (file_id, recording_id, job["job_id"], key_id, server.app_id,
                                 live_id):
                        assert mine not in text, (method, template, mine)
            # nothing of this app's changed: its room, publication, file, class and key
            room_after = await api.get_room("room-1")
            assert room_after["members"][0]["streams"] == room["members"][0]["streams"]
            await api.stop_recording("room-1", user_id="alice")
        after = await api.get_file(file_id)
        assert (after["file_name"], after["class_id"]) == ("scoped", class_id)
        assert httpx.get(after["play_set"][0]["url"]).status_code == 200
        classes = (await api._call("GET", "/v1/vod/classes"))["class_set"]
        assert [c["name"] for c in classes] == ["c"]
        assert (await api.app_settings())["app_id"] == server.app_id  # our key still works
        assert (await api._call("GET", "/v1/billing/balance"))["entries"] == []
        assert (await api._call("GET", "/v1/billing/plan"))["pending"] is None
    assert other_id != server.app_id


async def first_job(api: LivetapeClient, file_id: str) -> dict[str, Any] | None:
    jobs = await api.list_jobs(file_id=file_id)
    return jobs[0] if jobs else None
