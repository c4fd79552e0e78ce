"""Screen publishing through the browser SDK, and the demo page's whole /v1/record contract,
in headless Chromium.

The screen is a real capture: Chromium captures another tab ("slides", a page painted a known
colour with a moving bar) through getDisplayMedia, picked by title without a picker (see
``livetape_harness/browser.py``), while the fake camera publishes beside it: two WHIP
sessions from one page. The recorded MP4s are fetched and decoded with PyAV.
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from livetape.client.api import LivetapeClient
from livetape_harness.browser import (
    chromium,
    chromium_capturing_tab,
    open_sdk_page,
    require_browser,
    serve_html,
)
from livetape_harness.flow import download, wait_for
from livetape_harness.media_checks import probe
from livetape_harness.server import ServerFactory
from tests.api.test_browser_sdk import (
    PREROLL_SECONDS,
    SETTLE_SECONDS,
    STEP_TIMEOUT_MS,
    first_frame_written,
)
from tests.jobs.test_processing_jobs import make_png

RECORD_SECONDS = 4.0
SLIDES_TITLE = "livetape-slides"
SLIDES_SIZE = {"width": 960, "height": 540}  # the captured tab's viewport: the screen's size
SLIDES_RGB = (32, 96, 224)
# The tab being shared: one colour, and a bar moving across it so every frame changes (a
# still page makes Chromium send frames only now and then).
SLIDES = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{SLIDES_TITLE}</title><style>
html, body {{ margin: 0; height: 100%; overflow: hidden; background: rgb{SLIDES_RGB}; }}
#bar {{ position: absolute; top: 0; left: 0; width: 48px; height: 100%; background: #fff;
        animation: sweep 2s linear infinite; }}
@keyframes sweep {{ from {{ transform: translateX(0); }} to {{ transform: translateX(912px); }} }}
</style></head><body><div id="bar"></div></body></html>
"""

# The app's page, on another origin than livetape; each step comes back as {ok} or {error}.
APP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>an app sharing its screen</title></head>
<body><p id="ready">loading</p>
<script type="module">
import {{ Livetape, LivetapeError }} from "{sdk}";
let lt = null;
window.ended = [];
const caught = async (action) => {{
  try {{
    return {{ ok: await action() }};
  }} catch (e) {{
    return {{ error: {{ name: e.name, code: e.code, message: e.message, hint: e.hint,
                       body: e.body }} }};
  }}
}};
window.steps = {{
  connect: (url, token, room) => {{ lt = new Livetape({{ url, token, room }}); return true; }},
  publish: (options) => caught(async () => {{
    const publication = await lt.publish(options);
    publication.addEventListener("ended",
      (event) => window.ended.push({{ srcType: publication.srcType,
                                      error: event.detail.error?.message || null }}));
    const video = publication.stream.getVideoTracks()[0];
    return {{ srcType: publication.srcType, location: publication.location,
              label: video.label, settings: video.getSettings(),
              audio: publication.stream.getAudioTracks().map((track) => track.label) }};
  }}),
  stats: (srcType) => lt.publications.get(srcType).stats(),
  published: () => [...lt.publications.keys()].sort(),
  start: (options) => caught(() => lt.startRecording(options)),
  stop: (srcType) => caught(() => lt.stopRecording({{ srcType }})),
  leave: () => caught(async () => {{ await lt.leave(); return lt.publications.size; }}),
}};
document.getElementById("ready").textContent = "ready";
</script></body></html>
"""


def mean_rgb(path: Path) -> tuple[list[float], int]:
    """The mean colour of the decoded video (every frame, RGB) and how many frames."""
    total = np.zeros(3)
    count = 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            total += frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
            count += 1
    return [float(c) for c in total / max(count, 1)], count


async def test_sdk_publishes_camera_and_screen_and_records_the_screen(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    require_browser()
    server = start_server(job_workers=0)
    sdk_url = f"{server.url}/sdk/livetape.js"
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        room = await api.create_room("screen-share")
        token = await api.mint_token("dana")

        with serve_html(APP_PAGE.format(sdk=html.escape(sdk_url))) as page_url:
            async with chromium_capturing_tab(SLIDES_TITLE) as browser:
                context = await browser.new_context(viewport=SLIDES_SIZE,
                                                    permissions=["camera", "microphone"])
                slides = await context.new_page()
                await slides.set_content(SLIDES)
                page = await context.new_page()
                console = await open_sdk_page(page, page_url, server.url, token, room,
                                              STEP_TIMEOUT_MS)

                began = time.monotonic()
                camera = await page.evaluate("window.steps.publish({camera: true})")
                screen = await page.evaluate("window.steps.publish({screen: true})")
                published = time.monotonic() - began
                assert "ok" in camera and "ok" in screen, (camera, screen, console)
                captured = screen["ok"]["settings"]
                assert screen["ok"]["srcType"] == "screen", screen
                assert captured["displaySurface"] == "browser", captured  # a tab, not a fake
                assert (captured["width"], captured["height"]) == (960, 540), captured
                assert screen["ok"]["location"] != camera["ok"]["location"]
                members = (await api.get_room(room))["members"]
                assert [m["user_id"] for m in members] == ["dana"], members
                streams = {s["src_type"]: s for s in members[0]["streams"]}
                assert sorted(streams) == ["camera", "screen"], members
                assert streams["screen"]["codecs"]["video"] == "h264", streams

                await asyncio.sleep(SETTLE_SECONDS)
                started = await page.evaluate(
                    "(o) => window.steps.start(o)",
                    {"fileName": "screen-take", "srcType": "screen", "tags": ["slides"]})
                assert str(started.get("ok", "")).startswith("rec_"), (started, console)
                on_camera = await page.evaluate(
                    "(o) => window.steps.start(o)", {"fileName": "camera-take"})
                assert str(on_camera.get("ok", "")).startswith("rec_"), on_camera
                first_frame = await first_frame_written(api, started["ok"])
                recorded_from = time.monotonic()
                await asyncio.sleep(RECORD_SECONDS)
                stats = await page.evaluate("window.steps.stats('screen')")
                stopped = await page.evaluate("window.steps.stop('screen')")
                recorded = time.monotonic() - recorded_from
                assert "ok" in stopped and len(stopped["ok"]) == 1, stopped
                file_id = stopped["ok"][0]
                camera_files = await page.evaluate("window.steps.stop('camera')")
                assert "ok" in camera_files and len(camera_files["ok"]) == 1, camera_files

                # closing the shared tab ends the capture (as "Stop sharing" does): the SDK
                # leaves that WHIP session by itself, which ends its recording at once; the
                # camera goes on
                again = await page.evaluate(
                    "(o) => window.steps.start(o)",
                    {"fileName": "screen-again", "srcType": "screen"})
                assert str(again.get("ok", "")).startswith("rec_"), again
                await first_frame_written(api, again["ok"])
                await slides.close()
                await page.wait_for_function("window.ended.length > 0", timeout=STEP_TIMEOUT_MS)
                assert await page.evaluate("window.ended") == [
                    {"srcType": "screen", "error": None}]
                assert await page.evaluate("window.steps.published()") == ["camera"]
                streams_left = (await api.get_room(room))["members"][0]["streams"]
                assert [s["src_type"] for s in streams_left] == ["camera"], streams_left
                ended = (await page.evaluate("window.steps.stop('screen')"))["error"]
                assert ended["code"] == 30000413, ended
                assert ended["body"]["end_reason"] == "publisher_left", ended
                assert len(ended["body"]["file_ids"]) == 1, ended
                left = await page.evaluate("window.steps.leave()")
                assert left == {"ok": 0}, left

        assert (await api.get_room(room))["members"] == []
        entry = await api.get_file(file_id)
        assert entry["src_type"] == "screen" and entry["user_id"] == "dana", entry
        assert entry["tags"] == ["slides"] and entry["file_name"] == "screen-take", entry
        assert (entry["width"], entry["height"]) == (960, 540), entry
        path = await download(entry["play_set"][0]["url"], tmp_path / "screen.mp4")
        summary = probe(path)
        video = summary["video"]
        assert video and video["codec"] == "h264" and video["first_keyframe"], summary
        assert (video["width"], video["height"]) == (960, 540), summary
        assert -1.0 <= summary["duration"] - recorded <= 1.0 + PREROLL_SECONDS, (summary, recorded)
        assert video["frames"] >= 10 * RECORD_SECONDS, summary  # the moving bar: ~30 fps
        colour, frames = mean_rgb(path)
        # the slides' colour, with the white bar (5% of the width) lifting every channel a bit
        expected = [0.95 * c + 0.05 * 255 for c in SLIDES_RGB]
        assert all(abs(a - b) <= 16 for a, b in zip(colour, expected, strict=True)), colour

        after_sharing = await api.get_file(ended["body"]["file_ids"][0])
        assert after_sharing["src_type"] == "screen", after_sharing
        assert after_sharing["recording_id"] == again["ok"], after_sharing
        camera_entry = await api.get_file(camera_files["ok"][0])
        assert camera_entry["src_type"] == "camera" and camera_entry["user_id"] == "dana"
        assert camera_entry["video_codec"] == "h264", camera_entry

    print(f"\ncaptured tab {captured['width']}x{captured['height']} at "
          f"{captured['frameRate']} fps ({screen['ok']['label']}, audio "
          f"{screen['ok']['audio']}); encoder sent {stats}; publishing both took "
          f"{published:.2f} s, first frame {first_frame:.2f} s after start")
    print(f"screen file {file_id}: {summary['duration']:.3f} s for {recorded:.2f} s recorded, "
          f"{video['frames']} frames, audio {summary['audio']}, mean RGB "
          f"{[round(c) for c in colour]} over {frames} frames")


async def test_demo_page_sends_the_whole_record_contract(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """The demo's source, record type, class, tags and flags reach the recordings: the screen
    (Chromium's fake screen here) with a class, tags and all three flags, the camera beside it
    audio only; errors show the table's code, message and hint."""
    require_browser()
    # no workers: the jobs the flags queue stay queued for the test to see
    server = start_server(job_workers=0, record_snapshot_interval_seconds=1)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        room = await api.create_room("demo-contract")
        token = await api.mint_token("erin")
        lectures = (await api._call("POST", "/v1/vod/classes",
                                    json={"name": "lectures", "parent_id": 0}))["class_id"]
        await api.set_watermark(make_png(64, 32))

        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1000, "height": 1600})
            await page.goto(f"{server.url}/demo")
            await page.get_by_label("User token").fill(token)
            await page.get_by_label("Room id").fill(room)
            status = page.locator("#status")

            # keyboard: the source radios move with the arrow keys
            await page.get_by_role("radio", name="Camera").focus()
            await page.keyboard.press("ArrowRight")
            assert await page.get_by_role("radio", name="Screen").is_checked()
            await page.get_by_label("File name").fill("demo-screen")
            # recording a screen that is not published: the table's row on the page
            await page.get_by_role("button", name="Start recording").click()
            error = page.locator("#error")
            await error.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
            assert await page.inner_text("#error-code") == "30000411"
            message = await page.inner_text("#error-message")
            assert "user 'erin' publishes no screen stream" in message, message
            assert await page.inner_text("#error-hint") == (
                "check the room was opened, the user ID and room ID, or whether the user "
                "already left")

            await page.get_by_role("button", name="Share screen").click()
            await status.filter(has_text="Publishing the screen in room").wait_for(
                timeout=STEP_TIMEOUT_MS)
            assert await error.is_hidden()
            await page.get_by_role("button", name="Publish camera").click()
            await status.filter(has_text="Publishing the camera in room").wait_for(
                timeout=STEP_TIMEOUT_MS)
            await page.locator("#codecs").filter(has_text="screen: video/H264").wait_for(
                timeout=STEP_TIMEOUT_MS)
            assert await page.get_by_role("button", name="Share screen").is_disabled()
            captured = await page.eval_on_selector(
                "#screen-preview", "(v) => v.srcObject.getVideoTracks()[0].getSettings()")
            assert captured["displaySurface"] == "monitor", captured  # the fake screen

            # the screen: class, tags, every flag (the transcode box by keyboard)
            await page.get_by_label("Class id").fill(str(lectures))
            await page.get_by_label("Tags").fill(" math, week 1 ,, ")
            await page.get_by_label("Transcode").focus()
            await page.keyboard.press("Space")
            await page.get_by_label("Screenshots").check()
            await page.get_by_label("Watermark").check()
            await page.get_by_role("button", name="Start recording").click()
            await status.filter(has_text="(screen)").wait_for(timeout=STEP_TIMEOUT_MS)
            screen_recording = await page.inner_text("#recording-id")

            # the camera, audio only, with none of the above
            await page.get_by_role("radio", name="Camera").check()
            await page.get_by_label("Record type").select_option(label="Audio only")
            await page.get_by_label("File name").fill("demo-voice")
            await page.get_by_label("Class id").fill("")
            await page.get_by_label("Tags").fill("")
            for flag in ("Transcode", "Screenshots", "Watermark"):
                await page.get_by_label(flag).uncheck()
            await page.get_by_role("button", name="Start recording").click()
            await status.filter(has_text="(camera)").wait_for(timeout=STEP_TIMEOUT_MS)
            camera_recording = await page.inner_text("#recording-id")
            assert await error.is_hidden(), await page.inner_text("#error")

            await first_frame_written(api, screen_recording)
            await asyncio.sleep(3.0)
            await page.get_by_role("button", name="Stop recording").click()  # the camera
            await status.filter(has_text="of the camera").wait_for(timeout=STEP_TIMEOUT_MS)
            await page.get_by_role("radio", name="Screen").check()
            await page.get_by_role("button", name="Stop recording").click()
            await status.filter(has_text="of the screen").wait_for(timeout=STEP_TIMEOUT_MS)
            items = page.locator("#files li[data-status]")
            await items.nth(1).wait_for(timeout=STEP_TIMEOUT_MS)
            shown = await items.evaluate_all("(items) => items.map(i => ({...i.dataset}))")
            await page.get_by_role("button", name="Leave").click()
            await status.filter(has_text="Left the room.").wait_for(timeout=STEP_TIMEOUT_MS)
            assert await error.is_hidden(), await page.inner_text("#error")
            screenshot = tmp_path / "demo-contract.png"
            await page.screenshot(path=str(screenshot), full_page=True)

        # newest first: the screen's file, then the camera's
        assert [(s["srcType"], s["tags"], s["classId"], s["status"]) for s in shown] == [
            ("screen", "math,week 1", str(lectures), "4"), ("camera", "", "0", "2")], shown
        screen_file = (await api.get_recording(screen_recording))["file_ids"]
        assert screen_file == [shown[0]["fileId"]]
        entry = await api.get_file(shown[0]["fileId"])
        assert entry["src_type"] == "screen" and entry["user_id"] == "erin", entry
        assert entry["class_id"] == lectures and entry["tags"] == ["math", "week 1"], entry
        assert entry["status"] == 4, entry  # transcode and watermark queued: processing
        assert (entry["width"], entry["height"]) == (captured["width"], captured["height"])
        jobs = {job["kind"]: job for job in await wait_jobs(api, entry["file_id"])}
        assert sorted(jobs) == ["snapshot", "transcode", "watermark"], jobs
        assert all(job["state"] == "queued" for job in jobs.values()), jobs
        offsets = jobs["snapshot"]["params"]["time_offsets_ms"]
        assert offsets[:3] == [0, 1000, 2000], jobs["snapshot"]  # screenshot: every 1 s

        voice = await api.get_file(shown[1]["fileId"])
        assert voice["recording_id"] == camera_recording and voice["src_type"] == "camera"
        assert voice["video_codec"] is None and voice["audio_codec"] == "opus", voice
        assert voice["class_id"] == 0 and voice["tags"] == [] and voice["status"] == 2, voice
        voice_jobs = await api.list_jobs(file_id=voice["file_id"])
        assert voice_jobs == [], voice_jobs  # audio only, no flags: not even a cover
        summary = probe(await download(voice["play_set"][0]["url"], tmp_path / "voice.mp4"))
        assert summary["video"] is None and summary["audio"]["codec"] == "opus", summary

    print(f"\nfake screen {captured['width']}x{captured['height']} at {captured['frameRate']} "
          f"fps; screenshot: {screenshot}; files shown: {shown}")


async def wait_jobs(api: LivetapeClient, file_id: str) -> list[dict[str, Any]]:
    """The jobs of a file, once it has any."""
    async def listed() -> list[dict[str, Any]]:
        return await api.list_jobs(file_id=file_id)

    jobs: list[dict[str, Any]] = await wait_for(listed, timeout=10)
    return jobs
