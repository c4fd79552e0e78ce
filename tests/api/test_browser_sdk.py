"""The browser SDK (``/sdk/livetape.js``) and the demo page (``/demo``) in headless Chromium.

Chromium's fake camera (a moving test pattern and a beep) publishes over real WebRTC to a
real server; the recorded MP4 is then fetched with the server key and decoded with PyAV.
WebRTC runs between Chromium and aiortc on the machine's non-loopback address (both skip
127.0.0.1 candidates); HTTP stays on 127.0.0.1, a secure context, so getUserMedia works.
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from livetape.client.api import ApiError, LivetapeClient
from livetape_harness.browser import (
    chromium,
    open_sdk_page,
    page_messages,
    require_browser,
    serve_html,
)
from livetape_harness.flow import download, ffprobe, wait_for
from livetape_harness.media_checks import probe
from livetape_harness.server import ServerFactory

RECORD_SECONDS = 5.0
STEP_TIMEOUT_MS = 15_000
# A recording starts on a key frame once RTCP sender reports of both tracks came (A/V sync);
# Chromium's first audio report comes ~2.5 s into a new connection. Starting right after
# publishing works too, it just begins that much later.
SETTLE_SECONDS = 3.0
# LIVETAPE_PREROLL_SECONDS' default: a file begins at the latest key frame up to this long
# before its start request (Chromium sends its first as the connection comes up), so it may
# hold up to this much more than was recorded after the request.
PREROLL_SECONDS = 4.0


async def first_frame_written(api: LivetapeClient, recording_id: str) -> float:
    """Waits until the recording wrote its first video frame; returns how long that took."""
    began = time.monotonic()

    async def written() -> bool:
        return bool((await api.get_recording(recording_id)).get("written", {}).get("video"))

    await wait_for(written, timeout=10)
    return time.monotonic() - began


def check_recorded(path: Path, low: float, high: float) -> dict[str, Any]:
    """The MP4 holds H.264 video and Opus audio, both decodable, lasting ``low``-``high`` s."""
    summary = probe(path)
    video, audio = summary["video"], summary["audio"]
    assert video and video["codec"] == "h264" and video["first_keyframe"], summary
    assert audio and audio["codec"] == "opus", summary
    assert video["frames"] > 10 and audio["frames"] > 50, summary
    assert low <= summary["duration"] <= high, summary
    streams = {s["codec_type"]: s["codec_name"] for s in ffprobe(path)["streams"]}
    assert streams == {"video": "h264", "audio": "opus"}, streams
    return summary


async def test_demo_page_publishes_records_and_plays(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    require_browser()
    server = start_server()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        room = await api.create_room("demo-room")
        token = await api.mint_token("alice")

        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1000, "height": 1400})
            console = page_messages(page)
            await page.goto(f"{server.url}/demo")
            assert await page.input_value("#server-url") == server.url
            await page.get_by_label("User token").fill(token)
            await page.get_by_label("Room id").fill(room)

            began = time.monotonic()
            await page.get_by_role("button", name="Publish camera").click()
            status = page.locator("#status")
            await status.filter(has_text="Publishing the camera in room").wait_for(
                timeout=STEP_TIMEOUT_MS)
            published = time.monotonic() - began
            await page.locator("#codecs").filter(has_text="video/").wait_for(
                timeout=STEP_TIMEOUT_MS)
            codecs = await page.inner_text("#codecs")
            assert "video/H264" in codecs and "audio/opus" in codecs, (codecs, console)

            await asyncio.sleep(SETTLE_SECONDS)
            await page.get_by_label("File name").fill("demo-take")
            await page.get_by_role("button", name="Start recording").click()
            await status.filter(has_text="Recording rec_").wait_for(timeout=STEP_TIMEOUT_MS)
            recording_id = await page.inner_text("#recording-id")
            first_frame = await first_frame_written(api, recording_id)
            started = time.monotonic()
            await asyncio.sleep(RECORD_SECONDS)
            await page.get_by_role("button", name="Stop recording").click()
            await status.filter(has_text="Stopped:").wait_for(timeout=STEP_TIMEOUT_MS)
            stopped = time.monotonic() - started
            item = page.locator("#files li[data-file-id]")
            await item.first.wait_for(timeout=STEP_TIMEOUT_MS)
            shown = await item.evaluate_all("(items) => items.map(i => i.dataset.fileId)")
            assert await page.locator("#error").is_hidden(), await page.inner_text("#error")

            # the demo's own player loads the file through the user's play endpoint
            player = page.locator("#files video")
            await player.wait_for(timeout=STEP_TIMEOUT_MS)
            await page.wait_for_function(
                "() => { const v = document.querySelector('#files video');"
                " return v.error !== null || v.readyState >= 1; }", timeout=STEP_TIMEOUT_MS)
            played = await player.evaluate(
                "(v) => ({error: v.error && v.error.message, duration: v.duration,"
                " width: v.videoWidth, height: v.videoHeight})")
            assert played["error"] is None, played
            assert 4 <= played["duration"] <= 7 + PREROLL_SECONDS, played
            screenshot = tmp_path / "demo.png"
            await page.screenshot(path=str(screenshot), full_page=True)

        recording = await api.get_recording(recording_id)
        assert recording["file_ids"] == shown, (recording, shown)
        entry = await api.get_file(shown[0])
        assert entry["recording_id"] == recording_id and entry["user_id"] == "alice"
        assert entry["video_codec"] == "h264" and entry["audio_codec"] == "opus", entry
        info = await api.play_info("demo-take")
        assert [f["file_id"] for f in info["file_set"]] == shown
        summary = check_recorded(
            await download(entry["play_set"][0]["url"], tmp_path / "demo.mp4"),
            4.0, 7.0 + PREROLL_SECONDS)

    print(f"\nscreenshot: {screenshot}")
    print(f"chromium sent {codecs}; publish took {published:.2f} s, first frame written "
          f"{first_frame:.2f} s after start, stop answered "
          f"{stopped - RECORD_SECONDS:.2f} s after {RECORD_SECONDS} s of recording")
    print(f"file {shown[0]}: {summary['duration']:.3f} s, {entry['width']}x{entry['height']}, "
          f"{summary['video']['frames']} video frames, {summary['audio']['frames']} audio "
          f"frames; the demo's <video>: {played}")


# A page on another origin that imports the SDK from the livetape server. Each step is a
# function the test calls; an error comes back as a plain object with the SDK's fields.
CROSS_ORIGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>an app using livetape</title></head>
<body><p id="ready">loading</p>
<script type="module">
import {{ Livetape, LivetapeError }} from "{sdk}";
let lt = null;
const caught = async (action) => {{
  try {{
    return {{ ok: await action() }};
  }} catch (e) {{
    return {{ error: {{ isLivetapeError: e instanceof LivetapeError,
                       isError: e instanceof Error, name: e.name, code: e.code,
                       message: e.message, hint: e.hint, status: e.status }} }};
  }}
}};
window.steps = {{
  connect: (url, token, room) => {{ lt = new Livetape({{ url, token, room }}); return true; }},
  publish: () => caught(async () => {{
    const publication = await lt.publish({{ camera: {{ video: true, audio: true }} }});
    return {{ srcType: publication.srcType, location: publication.location }};
  }}),
  stats: () => lt.publications.get("camera").stats(),
  start: (options) => caught(() => lt.startRecording(options)),
  stop: () => caught(() => lt.stopRecording({{ srcType: "camera" }})),
  file: (fileId) => caught(() => lt.file(fileId)),
  leave: () => caught(async () => {{ await lt.leave(); return lt.publications.size; }}),
}};
document.getElementById("ready").textContent = "ready";
</script></body></html>
"""


async def test_sdk_from_another_origin_publishes_records_and_reports_errors(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    require_browser()
    server = start_server()
    sdk_url = f"{server.url}/sdk/livetape.js"
    async with httpx.AsyncClient() as http:
        served = await http.get(sdk_url, headers={"Origin": "http://elsewhere.example"})
    assert served.status_code == 200
    assert served.headers["content-type"] == "text/javascript; charset=utf-8"
    assert served.headers["access-control-allow-origin"] == "*"

    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        room = await api.create_room("cross-origin")
        token = await api.mint_token("bob")
        other_token = await api.mint_token("carol")

        with serve_html(CROSS_ORIGIN_PAGE.format(sdk=html.escape(sdk_url))) as page_url:
            assert page_url.split("/")[2] != server.url.split("/")[2]  # a different origin
            async with chromium() as browser:
                page = await browser.new_page()
                console = await open_sdk_page(page, page_url, server.url, token, room,
                                              STEP_TIMEOUT_MS)

                # stopping when nothing records: the table's row, through CORS
                nothing = (await page.evaluate("window.steps.stop()"))["error"]
                assert nothing == {
                    "isLivetapeError": True, "isError": True, "name": "LivetapeError",
                    "code": 30000412, "status": 409,
                    "message": "stop sent again: nothing is being recorded",
                    "hint": "the recording is already stopped; check for repeated stops",
                }, (nothing, console)

                published = await page.evaluate("window.steps.publish()")
                assert "ok" in published, (published, console)
                assert published["ok"]["location"].startswith(f"{server.url}/v1/rooms/{room}/")
                await asyncio.sleep(SETTLE_SECONDS)
                members = (await api.get_room(room))["members"]
                assert [m["user_id"] for m in members] == ["bob"], members

                started = await page.evaluate("window.steps.start({})")
                assert started["error"]["code"] == 30000002, started  # no file name
                options = {"fileName": "cross-origin", "recordType": "video",
                           "tags": ["sdk", "cors"], "classId": 0}
                started = await page.evaluate("(o) => window.steps.start(o)", options)
                assert str(started.get("ok", "")).startswith("rec_"), started
                again = await page.evaluate("(o) => window.steps.start(o)", options)
                assert again["error"]["code"] == 30000415, again
                await first_frame_written(api, started["ok"])
                await asyncio.sleep(3.0)
                stats = await page.evaluate("window.steps.stats()")
                stopped = await page.evaluate("window.steps.stop()")
                assert "ok" in stopped and len(stopped["ok"]) == 1, stopped
                file_id = stopped["ok"][0]
                twice = (await page.evaluate("window.steps.stop()"))["error"]
                assert twice["code"] == 30000412 and twice["isLivetapeError"], twice

                own = await page.evaluate("(f) => window.steps.file(f)", file_id)
                assert own["ok"]["file_id"] == file_id and own["ok"]["play_set"], own
                left = await page.evaluate("window.steps.leave()")
                assert left == {"ok": 0}, left

        assert (await api.get_room(room))["members"] == []
        entry = await api.get_file(file_id)
        assert entry["tags"] == ["sdk", "cors"] and entry["user_id"] == "bob", entry
        summary = check_recorded(
            await download(own["ok"]["play_set"][0]["url"], tmp_path / "cors.mp4"),
            2.0, 4.5 + PREROLL_SECONDS)

    # the play endpoint is the recording user's (or the server's) only
    async with LivetapeClient(server.url, token=other_token) as carol:
        with pytest.raises(ApiError) as refused:
            await carol._call("GET", f"/v1/vod/files/{file_id}/play")
        assert refused.value.code == 10008 and refused.value.status == 404
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        assert (await api._call("GET", f"/v1/vod/files/{file_id}/play"))["file_id"] == file_id

    print(f"\nchromium sent {stats}; file {summary['duration']:.3f} s")
