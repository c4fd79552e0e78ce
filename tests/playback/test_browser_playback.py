"""A finished recording plays and seeks in a real browser: headless Debian Chromium.

The issue asks that "every finished file is a standard MP4 that starts on a keyframe, plays and
seeks in Chromium and ffprobe". This test records H.264 + Opus over WHIP, then loads the play
URL into a ``<video crossorigin>`` on a page served from another origin, plays it, seeks, and
plays on to the end, checking what the media element reports at each step.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.browser import chromium, require_browser, serve_html
from livetape_harness.flow import download, ffprobe, in_store, record_all_of
from livetape_harness.server import ServerFactory

PLAY_TIMEOUT_MS = 20_000
SEEK_TARGET = 5.0  # seconds into the file, or 1.5 s before its end if it is shorter
DURATION_TOLERANCE = 0.3  # Chromium's duration vs the library's
SEEK_TOLERANCE = 0.1  # where currentTime lands after a seek

# crossorigin="anonymous" makes Chromium fetch the media in CORS mode, so playback (and the
# canvas read below) proves the play URL's CORS headers let another origin use the file.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>livetape playback</title></head>
<body style="margin:0;background:#222;color:#eee;font:14px monospace">
<video id="v" src="{src}" crossorigin="anonymous" muted playsinline preload="auto"></video>
<pre id="status"></pre>
<script>
const v = document.getElementById("v");
window.events = [];
for (const name of ["loadedmetadata", "canplay", "playing", "waiting", "stalled", "seeking",
                    "seeked", "ended", "error"]) {{
  v.addEventListener(name, () => window.events.push([name, v.currentTime]));
}}
window.snapshot = () => {{
  const q = v.getVideoPlaybackQuality();
  const ranges = (r) => Array.from({{length: r.length}}, (_, i) => [r.start(i), r.end(i)]);
  const s = {{
    currentTime: v.currentTime, duration: v.duration, paused: v.paused, ended: v.ended,
    readyState: v.readyState, networkState: v.networkState,
    error: v.error && {{code: v.error.code, message: v.error.message}},
    videoWidth: v.videoWidth, videoHeight: v.videoHeight,
    audioBytes: v.webkitAudioDecodedByteCount, videoBytes: v.webkitVideoDecodedByteCount,
    frames: q.totalVideoFrames, dropped: q.droppedVideoFrames,
    seekable: ranges(v.seekable), buffered: ranges(v.buffered), events: window.events,
  }};
  document.getElementById("status").textContent = JSON.stringify(s, null, 1);
  return s;
}};
</script></body></html>
"""

# Reading pixels from a canvas throws a SecurityError if the video tainted it (no CORS).
READ_FRAME = """() => {
  const v = document.getElementById("v");
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const ctx = c.getContext("2d");
  ctx.drawImage(v, 0, 0);
  const px = ctx.getImageData(0, 0, c.width, c.height).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum += px[i] + px[i + 1] + px[i + 2];
  return sum / (px.length / 4) / 3;
}"""


def until(condition: str) -> str:
    """A wait_for_function body: true once ``condition`` (over ``v`` and ``t``) or an error."""
    return (f'(t) => {{ const v = document.getElementById("v"); window.snapshot(); '
            f"return v.error !== null || ({condition}); }}")


def assert_playing_cleanly(state: dict[str, Any]) -> None:
    assert state["error"] is None, f"media element error: {state['error']}; {state}"
    events = [name for name, _ in state["events"]]
    assert "error" not in events and "stalled" not in events, state


@pytest.mark.parametrize("store", ["local", "s3"])
async def test_recording_plays_and_seeks_in_chromium(
    start_server: ServerFactory, tmp_path: Path, store: str, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On S3 the play URL answers 302 to a presigned URL of the bucket (SeaweedFS sends CORS
    headers of its own): Chromium follows it for every range it asks."""
    require_browser()
    settings: dict[str, Any] = {}
    if store == "s3":
        seaweed = request.getfixturevalue("seaweed")
        for name, value in seaweed.env.items():
            monkeypatch.setenv(name, value)
        settings["storage_url"] = seaweed.storage_url(request.getfixturevalue("s3_prefix"))
    server = start_server(**settings)
    media = EncodedMedia.synthetic(8.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        _, (entry,) = await record_all_of(server, api, media, "browser-play")
        (entry,) = await in_store(api, "browser-play")  # S3: uploaded from the spool
    play = entry["play_set"][0]
    url, duration = play["url"], float(entry["duration"])
    size = (play["vwidth"], play["vheight"])
    assert size == (media.width, media.height)
    assert duration > 4, f"recording too short to seek in: {entry}"
    target = min(SEEK_TARGET, duration - 1.5)

    standard = ffprobe(await download(url, tmp_path / "recorded.mp4"))
    assert abs(float(standard["format"]["duration"]) - duration) < 0.05

    media_responses: list[tuple[str | None, int, dict[str, str]]] = []
    with serve_html(PAGE.format(src=html.escape(url, quote=True))) as page_url:
        assert page_url.split("/")[2] != url.split("/")[2]  # a different origin
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 680, "height": 760})
            page.on("response", lambda r: media_responses.append(
                (r.request.headers.get("range"), r.status, r.headers)
            ) if r.url == url or "X-Amz-Signature=" in r.url else None)
            await page.goto(page_url)
            await page.evaluate('document.getElementById("v").play()')

            await page.wait_for_function(until("v.currentTime > t"), arg=2.0,
                                         timeout=PLAY_TIMEOUT_MS)
            played: dict[str, Any] = await page.evaluate("window.snapshot()")
            assert_playing_cleanly(played)
            assert (played["videoWidth"], played["videoHeight"]) == size
            assert abs(played["duration"] - duration) <= DURATION_TOLERANCE, (played, duration)
            assert played["frames"] > 0 and played["videoBytes"] > 0, played
            assert played["audioBytes"] > 0, f"Chromium decoded no audio (Opus in MP4): {played}"

            seeks_before = sum(name == "seeked" for name, _ in played["events"])
            await page.evaluate('(t) => { document.getElementById("v").currentTime = t; }', target)
            await page.wait_for_function(
                until(f'window.events.filter(e => e[0] === "seeked").length > {seeks_before}'),
                arg=target, timeout=PLAY_TIMEOUT_MS,
            )
            seeked: dict[str, Any] = await page.evaluate("window.snapshot()")
            assert_playing_cleanly(seeked)
            landed = [t for name, t in seeked["events"] if name == "seeked"][-1]
            assert abs(landed - target) <= SEEK_TOLERANCE, (target, seeked)

            await page.wait_for_function(until("v.currentTime > t + 0.5"), arg=landed,
                                         timeout=PLAY_TIMEOUT_MS)
            resumed: dict[str, Any] = await page.evaluate("window.snapshot()")
            assert_playing_cleanly(resumed)
            assert not resumed["paused"] and resumed["frames"] > seeked["frames"], resumed
            brightness = await page.evaluate(READ_FRAME)  # throws if CORS tainted the frame
            screenshot = tmp_path / "chromium-playback.png"
            await page.screenshot(path=str(screenshot), full_page=True)
            print(f"\nscreenshot: {screenshot}")

            await page.wait_for_function(until("v.ended"), arg=0,
                                         timeout=int((duration - target + 5) * 1000))
            ended: dict[str, Any] = await page.evaluate("window.snapshot()")
            assert_playing_cleanly(ended)
            assert abs(ended["currentTime"] - ended["duration"]) < 0.1, ended

    print(f"file: duration {duration:.3f} s, size {size}, {entry['size']} bytes")
    print(f"chromium: duration {played['duration']:.3f} s, "
          f"{played['videoWidth']}x{played['videoHeight']}, audio decoded "
          f"{ended['audioBytes']} B, video decoded {ended['videoBytes']} B, frames "
          f"{ended['frames']} ({ended['dropped']} dropped), mean luma {brightness:.1f}")
    print(f"seek: to {target:.3f} -> {landed:.3f}, then {resumed['currentTime']:.3f}; "
          f"ended at {ended['currentTime']:.3f}; events {ended['events']}")
    print("media requests: " + "; ".join(
        f"{rng} -> {status} {headers.get('content-range')} {headers.get('content-type')} "
        f"acao={headers.get('access-control-allow-origin')}"
        for rng, status, headers in media_responses
    ))
    served = [status for _, status, _ in media_responses if status != 302]
    redirects = len(media_responses) - len(served)
    assert served and all(status in (200, 206) for status in served)
    assert redirects == (len(served) if store == "s3" else 0)  # each range via a redirect
    # after a redirect to another origin, the browser sends "Origin: null" (Fetch's tainted
    # origin), which the store allows back
    allowed = ("*", page_url.rstrip("/")) + (("null",) if store == "s3" else ())
    assert all(h.get("access-control-allow-origin") in allowed for _, _, h in media_responses)
