"""livetape on S3 (SeaweedFS), end to end: a recording lands in the bucket (nothing in the
local folder), is listed and plays through a 302 to a presigned URL (ranges from the store
itself); HEAD, trials and playlists are answered by livetape (a trial MP4 streamed from the
store, cut at its end); transcoding (MP4 and HLS), snapshots and the watermark run on
objects from the bucket; deleting and expiring a file remove its objects."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import in_store, record_all_of, wait_for
from livetape_harness.seaweed import SeaweedS3
from livetape_harness.server import LiveServer, ServerFactory
from tests.jobs.test_processing_jobs import make_png, parse_playlist, processed, video_summary


def objects(seaweed: SeaweedS3, prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix`` in the bucket, by key, with its bytes."""
    client: Any = seaweed.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=seaweed.bucket,
                                                                  Prefix=prefix):
        for item in page.get("Contents", []):
            try:
                body = client.get_object(Bucket=seaweed.bucket, Key=item["Key"])["Body"]
            except client.exceptions.NoSuchKey:
                continue  # deleted between the listing and the read (an expiry sweep runs)
            found[item["Key"]] = body.read()
    return found


def on_s3(start_server: ServerFactory, seaweed: SeaweedS3, prefix: str,
          monkeypatch: pytest.MonkeyPatch, **settings: Any) -> LiveServer:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)  # the server (and its workers) inherit them
    return start_server(storage_url=seaweed.storage_url(prefix), **settings)


def redirected(url: str, seaweed: SeaweedS3, **kwargs: Any) -> httpx.Response:
    """GET ``url`` from livetape: a 302 to a presigned URL of the store, followed."""
    first = httpx.get(url, **kwargs)
    assert first.status_code == 302, (first.status_code, first.text[:300])
    assert first.headers["cache-control"] == "private, no-store"
    location = first.headers["location"]
    assert location.startswith(seaweed.endpoint + "/") and "X-Amz-Signature=" in location
    assert "X-Amz-Expires=300" in location  # LIVETAPE_S3_PRESIGN_SECONDS
    return httpx.get(location, **kwargs)


async def test_recorded_processed_played_and_deleted_on_s3(
    start_server: ServerFactory, seaweed: SeaweedS3, s3_prefix: str,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    server = on_s3(start_server, seaweed, s3_prefix, monkeypatch,
                   record_snapshot_interval_seconds=1, hls_segment_seconds=1)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.set_watermark(make_png(64, 32), "bottom-left")
        media = EncodedMedia.synthetic(4.0, width=640, height=360)
        (file_id,), (entry,) = await record_all_of(server, api, media, "ons3", transcode=True,
                                                   screenshot=True, watermark=True)
        info = await wait_for(lambda: processed(api, file_id), timeout=240, interval=0.5)
        await in_store(api, "ons3")  # uploaded from the spool
        trial_info = await api._call("GET", f"/v1/vod/files/{file_id}", params={"exper": 1})
    assert [job["state"] for job in info["jobs"]] == ["done"] * 3, info["jobs"]

    # every object is in the bucket under the URL's prefix, none in the local folder
    folder = f"{s3_prefix}/{server.app_id}/{file_id}/"
    stored = objects(seaweed, folder)
    names = {key[len(folder):] for key in stored}
    assert {"f0.mp4", "f1.mp4", "f10.mp4", "hls/master.m3u8", "cover.jpg"} <= names, names
    assert any(n.startswith("hls/") and n.endswith(".ts") for n in names)
    assert sum(n.startswith("snap/") for n in names) >= 3
    assert f"{s3_prefix}/{server.app_id}/_watermark/watermark.png" in objects(
        seaweed, f"{s3_prefix}/{server.app_id}/_watermark/")
    local = server.data_dir / "storage"
    assert not local.exists() or not [p for p in local.rglob("*") if p.is_file()]
    original = stored[f"{folder}f0.mp4"]
    assert info["size"] == len(original)

    # the original plays: 302 to the store, which answers ranges itself
    url = entry["play_set"][0]["url"]
    whole = redirected(url, seaweed)
    assert whole.status_code == 200 and whole.content == original
    assert whole.headers["content-type"] == "video/mp4"
    part = redirected(url, seaweed, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == original[100:200]
    played = tmp_path / "f0.mp4"
    played.write_bytes(whole.content)
    summary = video_summary(played)
    assert summary["size"] == (640, 360) and summary["frames"] >= 90
    head = httpx.head(url)  # answered by livetape from the object's metadata
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(original)
    assert head.headers["accept-ranges"] == "bytes" and head.headers["etag"]
    # livetape still checks the signature before redirecting
    assert httpx.get(url.split("?")[0]).status_code == 403
    assert httpx.get(url.replace("sign=", "sign=0")).status_code == 403
    play = {e["definition"]: e for e in info["play_set"]}
    rendition = tmp_path / "f10.mp4"
    rendition.write_bytes(redirected(play[10]["url"], seaweed).content)
    assert video_summary(rendition)["frames"] == summary["frames"]
    marked = redirected(play[1]["url"], seaweed)
    assert marked.content == stored[f"{folder}f1.mp4"]

    # a trial is cut by livetape: streamed from the store, never redirected
    trial = next(e for e in trial_info["play_set"] if e["definition"] == 0)["url"]
    cut = httpx.get(trial, headers={"Range": "bytes=0-"})
    assert cut.status_code == 206, cut.text[:300]
    limit = int(cut.headers["content-range"].split("-")[1].split("/")[0]) + 1
    assert cut.headers["content-range"] == f"bytes 0-{limit - 1}/{len(original)}"
    assert 0 < limit < len(original) * 0.6 and cut.content == original[:limit]
    assert httpx.get(trial).content == original[:limit]  # no Range: the whole trial
    inside = httpx.get(trial, headers={"Range": "bytes=50-149"})
    assert (inside.status_code, inside.content) == (206, original[50:150])
    assert httpx.get(trial, headers={"Range": f"bytes={limit}-"}).status_code == 403
    beyond = httpx.get(trial, headers={"Range": f"bytes={len(original) + 5}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(original)}"
    again = httpx.get(trial, headers={"If-None-Match": cut.headers["etag"]})
    assert again.status_code == 304
    prefix_file = tmp_path / "trial.mp4"
    prefix_file.write_bytes(cut.content)
    assert 0 < video_summary(prefix_file)["frames"] < summary["frames"]

    # HLS: playlists are signed by livetape, segments come from the store
    async with httpx.AsyncClient(timeout=60) as http:
        master = await http.get(info["hls_master_url"])
        assert master.status_code == 200 and "sign=" in master.text
        base = info["hls_master_url"].split("?")[0].rsplit("/", 1)[0]
        variant_uri = parse_playlist(master.text)[0][1]
        variant_url = f"{base}/{variant_uri}"
        variant = await http.get(variant_url)
        assert variant.headers["content-type"] == "application/vnd.apple.mpegurl"
        segments = [uri for _, uri in parse_playlist(variant.text)]
        assert len(segments) >= 3 and all("sign=" in s for s in segments)
        seg_base = variant_url.split("?")[0].rsplit("/", 1)[0]
    segment = redirected(f"{seg_base}/{segments[0]}", seaweed)
    assert (segment.status_code, segment.headers["content-type"]) == (200, "video/mp2t")
    ts = tmp_path / "seg.ts"
    ts.write_bytes(segment.content)
    assert video_summary(ts)["frames"] > 0
    async with httpx.AsyncClient(timeout=60) as http:  # a trial's playlist is cut
        trial_master = await http.get(trial_info["hls_master_url"])
        trial_variant = await http.get(f"{base}/{parse_playlist(trial_master.text)[0][1]}")
    kept = [uri for _, uri in parse_playlist(trial_variant.text)]
    assert 1 <= len(kept) < len(segments)
    assert redirected(f"{seg_base}/{kept[0]}", seaweed).status_code == 200

    # snapshots and the cover come from the store
    snap = info["snapshots"][1]
    image = tmp_path / "snap.jpg"
    image.write_bytes(redirected(snap["url"], seaweed).content)
    assert video_summary(image)["size"] == (640, 360)

    # DeleteVodFile removes every object of the file from the bucket; its URLs answer 404
    deleted = httpx.delete(f"{server.url}/v1/vod/files/{file_id}",
                           headers={"Authorization": f"Bearer {server.secret_key}"})
    assert deleted.json()["code"] == 0
    assert objects(seaweed, folder) == {}
    assert httpx.get(url).status_code == 404
    assert httpx.get(snap["url"]).status_code == 404


async def test_expiry_removes_objects_from_s3(
    start_server: ServerFactory, seaweed: SeaweedS3, s3_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = on_s3(start_server, seaweed, s3_prefix, monkeypatch, expiry_sweep_seconds=0.5)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        media = EncodedMedia.synthetic(2.0)
        (kept,), _ = await record_all_of(server, api, media, "kept")
        (expiring,), _ = await record_all_of(server, api, media, "expiring")
        await in_store(api, "kept")
        await in_store(api, "expiring")
        app = f"{s3_prefix}/{server.app_id}/"
        assert f"{app}{expiring}/f0.mp4" in objects(seaweed, f"{app}{expiring}/")
        past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
        await api._call("PATCH", f"/v1/vod/files/{expiring}", json={"expire_time": past})

        async def gone() -> bool:
            return objects(seaweed, f"{app}{expiring}/") == {}

        await wait_for(gone, timeout=30)
        assert f"{app}{kept}/f0.mp4" in objects(seaweed, f"{app}{kept}/")  # (and its cover)
        listed = await api.play_info("expiring")
        assert listed["file_set"] == []


async def test_a_store_that_goes_away_answers_503_then_plays_again(
    start_server: ServerFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """A store of its own (killed -9 and started again, with its data): while it is down,
    play URLs answer 503 / 1012 (not 404, not 500); once back, the same URL plays."""
    store = SeaweedS3(tmp_path / "weed").start()
    try:
        server = on_s3(start_server, store, "outage", monkeypatch, media_lookup_seconds=0,
                       s3_max_attempts=1, s3_connect_timeout_seconds=1)
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            await record_all_of(server, api, EncodedMedia.synthetic(2.0), "out")
            (entry,) = await in_store(api, "out")
        url = entry["play_set"][0]["url"]
        assert httpx.get(url).status_code == 302
        store.kill()
        down = httpx.get(url)
        assert down.status_code == 503 and down.json()["code"] == 1012, down.text
        assert "hint" in down.json()
        assert httpx.head(url).status_code == 503
        store.start()
        assert redirected(url, store).status_code == 200
    finally:
        store.kill()


async def test_usage_is_metered_on_s3(start_server: ServerFactory, seaweed: SeaweedS3,
                                      s3_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Storage counts the stored sizes; traffic the bytes each 302 hands to the store (the
    ranges asked for, or the whole object), nothing for HEAD, a 304 or a refused request."""
    server = on_s3(start_server, seaweed, s3_prefix, monkeypatch, usage_flush_seconds=0.2,
                   auto_cover="false")
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await record_all_of(server, api, EncodedMedia.synthetic(2.0), "meter")
        (entry,) = await in_store(api, "meter")
        url, size = entry["play_set"][0]["url"], entry["size"]

        async def usage() -> dict[str, Any]:
            day: dict[str, Any] = (await api._call("GET", "/v1/billing/usage"))["days"][-1]
            return day

        assert (await usage())["storage_peak_bytes"] == size
        sent = 0
        for spec in ("bytes=0-999", f"bytes=1000-{size // 2}", f"bytes={size // 2 + 1}-"):
            part = redirected(url, seaweed, headers={"Range": spec})
            assert part.status_code == 206
            sent += len(part.content)
        whole = redirected(url, seaweed)
        sent += len(whole.content)
        assert sent == 2 * size
        assert httpx.head(url).status_code == 200
        fresh = httpx.get(url, headers={"If-None-Match": whole.headers["etag"]})
        assert fresh.status_code == 304  # the store's ETag: livetape answers it
        assert httpx.get(url.split("?")[0]).status_code == 403

        async def counted() -> bool:
            return bool((await usage())["traffic_bytes"] == sent)

        await wait_for(counted, timeout=10)
        await asyncio.sleep(0.5)
        assert (await usage())["traffic_bytes"] == sent  # and no more
