"""Screen publishing through the browser SDK, and the demo page's whole /v1/record contract,
in headless Chromium.

The screen is a real capture: Chromium captures another tab ("slides", a page painted a known
colour with a moving bar) through getDisplayMedia, picked by title without a picker (see
``tests/browser.py``), while the fake camera publishes beside it: two WHIP sessions from one
page. The recorded MP4s are fetched and decoded with PyAV.
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path

import av
import numpy as np

from livetape.client.api import LivetapeClient

from .browser import chromium_capturing_tab, require_browser, serve_html
from .conftest import ServerFactory
from .flow import download
from .media import probe
from .test_browser_sdk import SETTLE_SECONDS, STEP_TIMEOUT_MS, first_frame_written

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
    return {{ error: {{ name: e.name, code: e.code, message: e.message, hint: e.hint }} }};
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
                console: list[str] = []
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
                await page.goto(page_url)
                await page.locator("#ready").filter(has_text="ready").wait_for(
                    timeout=STEP_TIMEOUT_MS)
                await page.evaluate("([u, t, r]) => window.steps.connect(u, t, r)",
                                    [server.url, token, room])

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
                # leaves that WHIP session by itself; the camera goes on
                await slides.close()
                await page.wait_for_function("window.ended.length > 0", timeout=STEP_TIMEOUT_MS)
                assert await page.evaluate("window.ended") == [
                    {"srcType": "screen", "error": None}]
                assert await page.evaluate("window.steps.published()") == ["camera"]
                streams_left = (await api.get_room(room))["members"][0]["streams"]
                assert [s["src_type"] for s in streams_left] == ["camera"], streams_left
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
        assert abs(summary["duration"] - recorded) <= 1.0, (summary, recorded)
        assert video["frames"] >= 10 * RECORD_SECONDS, summary  # the moving bar: ~30 fps
        colour, frames = mean_rgb(path)
        # the slides' colour, with the white bar (5% of the width) lifting every channel a bit
        expected = [0.95 * c + 0.05 * 255 for c in SLIDES_RGB]
        assert all(abs(a - b) <= 16 for a, b in zip(colour, expected, strict=True)), colour

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
