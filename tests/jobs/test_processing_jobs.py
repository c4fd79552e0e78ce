"""Processing through the server: start-recording flags and ConvertVodFile make renditions
(MP4 ladder, HLS), snapshots, a cover and a watermarked original, by workers beside the
server; jobs survive a server killed mid-transcode."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import record_all_of, wait_for
from livetape_harness.server import LiveServer, ServerFactory

MARGIN = 16  # the documented distance of the watermark from its corner


def make_png(width: int, height: int) -> bytes:
    """An opaque red rectangle with a transparent hole: a PNG made with PyAV."""
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 255
    rgba[height // 4: height // 2, width // 4: width // 2, 3] = 0
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "rgba"  # type: ignore[attr-defined]
    codec.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
    packets = list(codec.encode(frame)) + list(codec.encode(None))  # type: ignore[attr-defined]
    return b"".join(bytes(p) for p in packets)


async def fetch(url: str, target: Path) -> Path:
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    target.write_bytes(response.content)
    return target


def video_summary(path: Path) -> dict[str, Any]:
    """Decode every frame: sizes, codecs, frame count and the duration by timestamps."""
    with av.open(str(path)) as container:
        streams = {s.type: s.codec_context.name for s in container.streams}
        frames, size = 0, (0, 0)
        for frame in container.decode(video=0) if "video" in streams else []:
            frames += 1
            size = (frame.width, frame.height)
        duration = container.duration / av.time_base if container.duration else 0.0
    return {"codecs": streams, "frames": frames, "size": size, "duration": duration}


def luma_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]


def parse_playlist(text: str) -> list[tuple[dict[str, str], str]]:
    """(tag attributes or {'EXTINF': duration}, URI) pairs of an m3u8."""
    entries, pending = [], {}
    for line in text.splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = line.split(":", 1)[1]
            pending = dict(a.split("=", 1) for a in _split_attrs(attrs))
        elif line.startswith("#EXTINF:"):
            pending = {"EXTINF": line.split(":", 1)[1].split(",")[0]}
        elif line and not line.startswith("#"):
            entries.append((pending, line))
            pending = {}
    return entries


def _split_attrs(attrs: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in attrs:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current] if current else parts


async def processed(api: LivetapeClient, file_id: str) -> dict[str, Any] | None:
    info = await api.get_file(file_id)
    jobs = info["jobs"]
    if jobs and all(job["state"] in ("done", "failed") for job in jobs):
        return info
    return None


async def test_recording_flags_make_renditions_snapshots_and_watermark(
    start_server: ServerFactory, backend: str, tmp_path: Path
) -> None:
    server = start_server(backend, record_snapshot_interval_seconds=1, hls_segment_seconds=1)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.set_watermark(make_png(64, 32), "bottom-left")
        media = EncodedMedia.synthetic(5.0, width=1280, height=720)
        (file_id,), _ = await record_all_of(server, api, media, "flags", transcode=True,
                                            screenshot=True, watermark=True)
        info = await wait_for(lambda: processed(api, file_id), timeout=240, interval=0.5)
    assert [job["state"] for job in info["jobs"]] == ["done"] * 3, info["jobs"]
    assert {job["kind"] for job in info["jobs"]} == {"snapshot", "transcode", "watermark"}
    assert info["status"] == 2 and info["status_reason"] == ""
    play = {entry["definition"]: entry for entry in info["play_set"]}
    assert sorted(play) == [0, 1, 10, 20, 30, 210, 220, 230]

    original = video_summary(await fetch(play[0]["url"], tmp_path / "f0.mp4"))
    assert original["size"] == (1280, 720)
    expected = {10: (640, 360), 20: (1280, 720), 30: (1280, 720)}  # 1080p capped at 720p
    for definition, size in expected.items():
        entry = play[definition]
        assert (entry["vwidth"], entry["vheight"]) == size
        got = video_summary(await fetch(entry["url"], tmp_path / f"f{definition}.mp4"))
        assert got["codecs"] == {"video": "h264", "audio": "aac"}, definition
        assert got["size"] == size
        assert got["frames"] == original["frames"]
        assert abs(got["duration"] - original["duration"]) <= 0.2, (definition, got)

    async with httpx.AsyncClient(timeout=60) as http:
        master = (await http.get(info["hls_master_url"])).text
        variants = parse_playlist(master)
        assert [v[0]["RESOLUTION"] for v in variants] == ["640x360", "1280x720", "1280x720"]
        assert all(int(v[0]["BANDWIDTH"]) > 0 for v in variants)
        base = info["hls_master_url"].split("?")[0].rsplit("/", 1)[0]
        for _, uri in variants:
            variant_url = f"{base}/{uri}"
            playlist = await http.get(variant_url)
            assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
            segments = parse_playlist(playlist.text)
            assert len(segments) >= 3  # 1 s segments
            total = 0.0
            for attrs, segment_uri in segments:
                seg_url = variant_url.split("?")[0].rsplit("/", 1)[0] + "/" + segment_uri
                seg = await http.get(seg_url)
                assert (seg.status_code, seg.headers["content-type"]) == (200, "video/mp2t")
                part = await http.get(seg_url, headers={"Range": "bytes=188-375"})
                assert (part.status_code, part.content) == (206, seg.content[188:376])
                path = tmp_path / "segment.ts"
                path.write_bytes(seg.content)
                assert video_summary(path)["frames"] > 0  # decodes on its own
                total += float(attrs["EXTINF"])
            assert abs(total - original["duration"]) <= 0.2

    assert httpx.head(info["image_url"]).headers["content-type"] == "image/jpeg"
    cover = video_summary(await fetch(info["image_url"], tmp_path / "cover.jpg"))
    assert cover["size"] == (1280, 720)
    offsets = list(range(0, int(info["duration"] * 1000), 1000))  # one a second, from 0
    assert len(offsets) >= 3
    assert [s["time_offset_ms"] for s in info["snapshots"]] == offsets
    for snap in info["snapshots"]:
        image = await fetch(snap["url"], tmp_path / f"snap{snap['time_offset_ms']}.jpg")
        assert video_summary(image)["size"] == (1280, 720) == (snap["width"], snap["height"])

    marked = luma_frames(await fetch(play[1]["url"], tmp_path / "f1.mp4"))
    source = luma_frames(tmp_path / "f0.mp4")
    assert len(marked) == len(source)
    region = np.zeros((720, 1280), dtype=bool)
    region[720 - MARGIN - 32: 720 - MARGIN, MARGIN: MARGIN + 64] = True
    inside = np.mean([np.abs(m - s)[region].mean() for m, s in zip(marked, source, strict=True)])
    outside = np.mean([np.abs(m - s)[~region].mean() for m, s in zip(marked, source, strict=True)])
    assert inside > 20 and outside < 2, (inside, outside)

    # DeleteVodFile removes the renditions, segments and images too; their URLs answer 404
    objects = server.data_dir / "storage" / server.app_id / file_id
    assert len([p for p in objects.rglob("*") if p.is_file()]) > 10
    assert call(server, "DELETE", f"/v1/vod/files/{file_id}").json()["code"] == 0
    assert not objects.exists()
    for url in [e["url"] for e in info["play_set"]] + [info["image_url"], info["hls_master_url"]]:
        assert httpx.get(url).status_code == 404, url


def call(server: LiveServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.secret_key}"}
    return httpx.request(method, f"{server.url}{path}", headers=headers, timeout=30, **kwargs)


async def test_convert_errors_and_cli_progress(start_server: ServerFactory) -> None:
    server = start_server()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "cli")
        audio_id, _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "voice",
                                          record_type="audio")
        for body, code in (({"definitions": [40]}, 1000), ({"definitions": []}, 1000),
                           ({"watermark": True}, 1000)):  # the app has no watermark yet
            with_error = call(server, "POST", f"/v1/vod/files/{file_id}/convert", json=body)
            assert (with_error.status_code, with_error.json()["code"]) == (400, code), body
        late = call(server, "POST", f"/v1/vod/files/{file_id}/snapshots",
                    json={"time_offsets_ms": [60_000]})
        assert (late.status_code, late.json()["code"]) == (400, 1000)
        missing = call(server, "POST", "/v1/vod/files/123/convert", json={})
        assert (missing.status_code, missing.json()["code"]) == (404, 10008)
        with_class = call(server, "POST", "/v1/record", json={
            "operation": "start", "room_id": "room-1", "user_id": "alice", "file_name": "x",
            "class_id": 999})
        assert (with_class.status_code, with_class.json()["code"]) == (404, 10008)

    # the CLI queues a transcode and shows a progress bar until it ends
    code, stdout, terminal = await asyncio.to_thread(
        server.cli_tty, "vod", "convert", file_id, "--definition", "10", "--wait",
        "--url", server.url, "--key", server.secret_key,
    )
    assert code == 0, terminal
    assert "1 job(s)" in terminal and "100%" in terminal and "#" in terminal, terminal
    assert json.loads(stdout)["jobs"][0]["state"] == "done"
    audio = await asyncio.to_thread(
        server.cli_raw, "vod", "convert", audio_id[0], "--wait", "--url", server.url,
        "--key", server.secret_key,
    )
    assert audio.returncode == 0, audio.stderr
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        info = await api.get_file(audio_id[0])
        assert info["image_url"] == ""  # no picture, no cover
        for entry in info["play_set"][1:]:
            got = video_summary(await fetch(entry["url"], server.data_dir / "a.mp4"))
            assert got["codecs"] == {"audio": "aac"} and (entry["vwidth"], entry["vheight"]) == (
                0, 0)
        try:
            await api.snapshot(audio_id[0], [0])
        except ApiError as exc:
            assert exc.code == 1000
        else:
            raise AssertionError("snapshots of an audio-only file were accepted")


async def test_transcode_resumes_after_server_and_worker_are_killed(
    start_server: ServerFactory, backend: str, tmp_path: Path
) -> None:
    server = start_server(backend, job_lease_seconds=3, transcode_preset="veryslow",
                          auto_cover="false")
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(
            4.0, width=1280, height=720), "resume")
        job = (await api.convert(file_id, [10, 20]))["jobs"][0]

        async def started() -> bool:
            got = await api.get_job(job["job_id"])
            return got["state"] == "running" and got["progress"] > 0

        await wait_for(started, timeout=60)
    workers = server.children()
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)  # the worker dies first: nothing gives the job back
    server.kill()
    server.env["LIVETAPE_TRANSCODE_PRESET"] = "veryfast"
    server.start()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async def finished() -> dict[str, Any] | None:
            got = await api.get_job(job["job_id"])
            return got if got["state"] in ("done", "failed") else None

        final = await wait_for(finished, timeout=120, interval=0.5)
        assert (final["state"], final["attempts"]) == ("done", 2), final
        info = await api.get_file(file_id)
    assert info["status"] == 2
    play = {entry["definition"]: entry for entry in info["play_set"]}
    assert sorted(play) == [0, 10, 20]
    for definition in (10, 20):
        got = video_summary(await fetch(play[definition]["url"], tmp_path / "r.mp4"))
        assert got["frames"] > 0 and got["size"][1] == {10: 360, 20: 720}[definition]


async def test_external_worker_failure_status_and_recovery(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """No workers beside the server: jobs wait, queued, with the file in status 4; a
    `livetape worker` started on its own runs them; a job that cannot succeed fails at once
    and leaves status 7 with the reason; a later transcode brings the file back to 2."""
    server = start_server(job_workers=0, auto_cover="false")
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "ext")
        await api.set_watermark(make_png(32, 32))
        job = await api.watermark(file_id)
        await asyncio.sleep(1.0)
        assert (await api.get_job(job["job_id"]))["state"] == "queued"
        assert (await api.get_file(file_id))["status"] == 4
        assert call(server, "DELETE", "/v1/vod/watermark").json()["code"] == 0

        worker = subprocess.Popen([sys.executable, "-m", "livetape", "worker"],
                                  env=server._env(), stderr=subprocess.PIPE)
        try:
            async def ended(job_id: str) -> dict[str, Any] | None:
                got = await api.get_job(job_id)
                return got if got["state"] in ("done", "failed") else None

            failed = await wait_for(lambda: ended(job["job_id"]), timeout=60)
            assert (failed["state"], failed["attempts"]) == ("failed", 1)
            assert "no watermark" in failed["error"]
            info = await api.get_file(file_id)
            assert info["status"] == 7 and "no watermark" in info["status_reason"]
            assert [e["definition"] for e in info["play_set"]] == [0]  # the original still plays

            again = (await api.convert(file_id, [10]))["jobs"][0]
            assert (await api.get_file(file_id))["status"] == 4
            assert (await wait_for(lambda: ended(again["job_id"]), timeout=60))["state"] == "done"
            info = await api.get_file(file_id)
            assert (info["status"], info["status_reason"]) == (2, "")
            assert [job["job_id"] for job in await api.list_jobs(state="failed")] == [
                job["job_id"]]
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
