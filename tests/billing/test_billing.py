"""Metering: playback traffic counts the bytes actually sent, storage its daily peak,
transcoding the renditions' output time by resolution tier."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import publishing, record_all_of, wait_for
from livetape_harness.server import ServerFactory


async def today(api: LivetapeClient) -> dict[str, Any]:
    days = (await api._call("GET", "/v1/billing/usage"))["days"]
    day: dict[str, Any] = days[-1]
    return day


async def test_usage_is_metered_exactly(start_server: ServerFactory, backend: str) -> None:
    server = start_server(backend, usage_flush_seconds=0.2, auto_cover="false")
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (first_id,), (first,) = await record_all_of(server, api, EncodedMedia.synthetic(3.5),
                                                    "metered")
        url, size = first["play_set"][0]["url"], first["size"]
        assert (await today(api))["storage_peak_bytes"] == size
        assert (await today(api))["traffic_bytes"] == 0

        # three ranged parts and one whole download: traffic is exactly the bytes sent
        sent = 0
        async with httpx.AsyncClient(timeout=30) as http:
            for spec in ("bytes=0-999", f"bytes=1000-{size // 2}", f"bytes={size // 2 + 1}-"):
                part = await http.get(url, headers={"Range": spec})
                assert part.status_code == 206
                sent += len(part.content)
            whole = await http.get(url)
            sent += len(whole.content)
            assert sent == 2 * size
            # nothing is counted for headers only, a 304 or a refused request
            assert (await http.head(url)).status_code == 200
            etag = whole.headers["etag"]
            assert (await http.get(url, headers={"If-None-Match": etag})).status_code == 304
            assert (await http.get(url.split("?")[0])).status_code == 403

        async def counted() -> int:
            return int((await today(api))["traffic_bytes"] == sent)

        await wait_for(counted, timeout=10)
        await asyncio.sleep(0.5)
        assert (await today(api))["traffic_bytes"] == sent  # and no more

        # transcoding: output minutes by tier; storage: renditions count, the peak stays
        job = (await api.convert(first_id, [10]))["jobs"][0]

        async def done() -> bool:
            return (await api.get_job(job["job_id"]))["state"] == "done"

        await wait_for(done, timeout=60)
        info = await api.get_file(first_id)
        rendition = next(e for e in info["play_set"] if e["definition"] == 10)
        usage = await today(api)
        assert usage["transcode_minutes"]["sd"] == round(rendition["duration"] / 60, 3) > 0
        assert usage["transcode_minutes"]["hd"] == 0
        assert usage["storage_peak_bytes"] == size + rendition["size"]

        (second_id,), (second,) = await record_all_of(server, api, EncodedMedia.synthetic(3.5),
                                                      "deleted-later")
        await api._call("DELETE", f"/v1/vod/files/{second_id}")
        peak = size + rendition["size"] + second["size"]
        assert (await today(api))["storage_peak_bytes"] == peak  # added then deleted: kept
    bad = httpx.get(f"{server.url}/v1/billing/usage", params={"from": "2026-01-02",
                                                              "to": "2026-01-01"},
                    headers={"Authorization": f"Bearer {server.secret_key}"})
    assert (bad.status_code, bad.json()["code"]) == (400, 1000)


async def test_an_empty_balance_refuses_recording_with_code_2(start_server: ServerFactory) -> None:
    server = start_server(billing_enforce="true")
    headers = {"Authorization": f"Bearer {server.secret_key}"}
    start = {"operation": "start", "room_id": "room-1", "user_id": "alice", "file_name": "paid"}
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, EncodedMedia.synthetic(3.0), loop=True):
            refused = httpx.post(f"{server.url}/v1/record", json=start, headers=headers)
            assert (refused.status_code, refused.json()["code"]) == (402, 2)
            assert "top up" in refused.json()["hint"]
            assert (await api.get_room("room-1"))["recordings"] == []  # nothing recorded

            first = await asyncio.to_thread(server.cli, "billing", "topup", server.app_id,
                                            "12.5", "--ref", "order-1")
            assert (first["added"], first["balance"]) == (True, "12.500000")
            again = await asyncio.to_thread(server.cli, "billing", "topup", server.app_id,
                                            "12.5", "--ref", "order-1")
            assert (again["added"], again["balance"]) == (False, "12.500000")  # counted once
            balance = (await api._call("GET", "/v1/billing/balance"))
            assert balance["balance"] == "12.500000"
            assert [(e["kind"], e["ref"]) for e in balance["entries"]] == [("topup", "order-1")]

            started = httpx.post(f"{server.url}/v1/record", json=start, headers=headers)
            assert started.status_code == 200, started.text
            recording_id = started.json()["recording_id"]

            async def writing() -> bool:
                state = await api.get_recording(recording_id)
                return bool(state.get("written", {}).get("video", 0))

            await wait_for(writing, timeout=20)
            assert len(await api.stop_recording("room-1", user_id="alice")) == 1
