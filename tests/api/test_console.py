"""The web console (``/console``): driven in headless Chromium against a real server with real
recordings, and its session checked over plain HTTP.

The browser test signs in, stops a running recording from "Recording now", finds a recorded
file in the library (with its cover), searches, plays it (the ``<video>`` passes 2 s with no
error), takes snapshots and transcodes (to HLS too), plays the HLS master playlist through
hls.js and checks the console without hls.js (the MP4 renditions and the playlist's URL),
renames, re-classifies and tags it, manages categories, reads the usage charts and deletes
the file. A screenshot of every view is saved under ``test-artifacts/console/`` (git-ignored)
for review.

hls.js is fetched by ``make vendor`` (part of ``make install``): when it is missing the test
fails under ``LIVETAPE_TEST_REQUIRE_BROWSER=1`` (as CI sets it), else it checks the rest and
is then skipped, loudly.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

import livetape
from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.browser import REQUIRE_BROWSER, chromium, require_browser, serve_html
from livetape_harness.flow import publishing, record_all_of, wait_for
from livetape_harness.server import ServerFactory

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
STEP_MS = 15_000
HEADER = {"X-Livetape-Console": "1"}
VIEWPORT = {"width": 1366, "height": 900}  # a laptop screen
HLS_JS = Path(livetape.__file__).parent / "web" / "console" / "vendor" / "hls.light.min.js"
NO_HLS_JS = f"{HLS_JS} is missing: run 'make vendor' (it fetches hls.js from the npm registry)"


# Every form control has a label and every image a text alternative, in every view.
UNLABELLED = """() => [
  ...[...document.querySelectorAll("input, select, textarea")].filter((e) => e.type !== "hidden"
      && !e.closest("[hidden]") && !e.labels.length && !e.getAttribute("aria-label"))
      .map((e) => e.outerHTML),
  ...[...document.querySelectorAll("img")].filter((e) => !e.hasAttribute("alt"))
      .map((e) => e.outerHTML)]"""


async def screenshot(page: Any, name: str) -> Path:
    """Saves the view for review, after checking its labels and image texts."""
    assert await page.evaluate(UNLABELLED) == [], name
    await page.wait_for_function("() => [...document.images].every((i) => i.complete)",
                                 timeout=STEP_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def has_cover(api: LivetapeClient, file_id: str) -> bool:
    return bool((await api.get_file(file_id))["image_url"])


# A page on another origin (same site: 127.0.0.1, another port) trying to use the console's
# cookie: with the custom header the CORS preflight grants no credentials, so the call never
# leaves; without it the server refuses the cookie (and nothing is queued).
CROSS_SITE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>elsewhere</title></head><body><script>
window.attempt = async (base, fileId) => {
  const out = {};
  try {
    const r = await fetch(base + "/v1/vod/files", {credentials: "include",
                                                   headers: {"X-Livetape-Console": "1"}});
    out.withHeader = r.status;
  } catch (e) { out.withHeader = e.name; }
  await fetch(base + "/v1/vod/files/" + fileId + "/convert", {method: "POST",
    mode: "no-cors", credentials: "include", body: "{}"});
  out.simplePost = "sent";
  return out;
};
</script></body></html>"""


def hls_request(request: Any) -> str | None:
    path = request.url.split("?")[0]
    return f"{request.resource_type} {path}" if path.endswith((".m3u8", ".ts")) else None


async def play_hls(page: Any, file_id: str, problems: list[str]) -> None:
    """Chooses the HLS master playlist in the file's player: hls.js plays it (playlists and
    segments fetched by script, the <video> on a MediaSource) past 2 s with no error.
    Chromium 156 also answers "maybe" for HLS of its own, which would fetch as "media"."""
    requests: list[str] = []

    def record(request: Any) -> None:
        if line := hls_request(request):
            requests.append(line)

    note = page.locator("#hls-master").filter(has_text="plays here through hls.js ")
    await note.wait_for(timeout=STEP_MS)
    # a fatal hls.js error is shown on the page (the variant playlist answering 404 here)
    gone, before = "**/hls/210/index.m3u8*", len(problems)
    await page.route(gone, lambda route: route.fulfill(status=404, body="gone"))
    await page.get_by_label("Rendition").select_option("210")  # 360p HLS
    failed = page.locator("#player-error").filter(has_text="HLS playback failed")
    await failed.wait_for(timeout=STEP_MS)
    assert "manifestLoadError, HTTP 404" in await failed.inner_text()
    await page.unroute(gone)
    expected = [p for p in problems[before:] if "404" in p]  # the response, and its console line
    assert expected == problems[before:] and expected, problems[before:]
    del problems[before:]

    page.on("request", record)
    await page.get_by_label("Rendition").select_option(label="HLS (adaptive)")
    player = page.locator("#player")
    ready = ("() => { const v = document.getElementById('player');"
             " return v.error !== null || document.getElementById('player-error').textContent"
             " || v.readyState >= 2 && v.currentSrc.startsWith('blob:'); }")
    await page.wait_for_function(ready, timeout=STEP_MS)
    await player.evaluate("(v) => { v.muted = true; return v.play(); }")
    await page.wait_for_function(
        "() => { const v = document.getElementById('player');"
        " return v.error !== null || document.getElementById('player-error').textContent"
        " || v.currentTime > 2; }", timeout=STEP_MS)
    played = await player.evaluate(
        "(v) => ({error: v.error && v.error.message, time: v.currentTime, src: v.currentSrc,"
        " problem: document.getElementById('player-error').textContent})")
    page.remove_listener("request", record)
    assert played["error"] is None and not played["problem"], played
    assert played["time"] > 2 and played["src"].startswith("blob:"), played
    kinds = {line.split()[0] for line in requests}
    paths = [line.split()[1] for line in requests]
    assert kinds <= {"xhr", "fetch"}, requests  # hls.js's, not the browser's own HLS
    assert any(p.endswith(f"/{file_id}/hls/master.m3u8") for p in paths), requests
    assert any(p.endswith("/hls/210/index.m3u8") for p in paths), requests
    assert any(re.search(r"/hls/210/[^/]+\.ts$", p) for p in paths), requests
    await player.evaluate("(v) => new Promise((done) => { v.pause();"
                          " v.addEventListener('seeked', done, {once: true});"
                          " v.currentTime = 1; })")
    await screenshot(page, "5b-file-hls")


# Firefox, and Chromium before its own HLS: no HLS for <video> (Chromium 156 answers "maybe")
NO_NATIVE_HLS = """(() => { const canPlayType = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? "" : canPlayType.call(this, type); }; })()"""


async def console_without_hls_js(context: Any, base: str, file_id: str) -> None:
    """The file's page when hls.js is not there (its URL answers 404): HLS is offered where
    the browser plays it itself (as Chromium 156 does); elsewhere the MP4 renditions play
    and the master playlist's URL is shown with why HLS does not play here."""
    page = await context.new_page()
    await page.route("**/console/vendor/**", lambda route: route.fulfill(
        status=404, content_type="application/json", body='{"code": 1004}'))
    await page.goto(f"{base}/console#/files/{file_id}")
    options = page.locator("#rendition option")
    native = await page.evaluate("() => document.createElement('video')"
                                 ".canPlayType('application/vnd.apple.mpegurl')")
    if native:  # Chromium 156: "maybe" (it plays it, measured; the test does not)
        await page.locator("#hls-master").filter(has_text="this browser's own HLS").wait_for(
            timeout=STEP_MS)
        values = await options.evaluate_all("(all) => all.map((o) => o.value)")
        assert values == ["0", "10", "hls", "210"], values

    await page.add_init_script(NO_NATIVE_HLS)
    await page.reload()
    await page.locator("#hls-master").filter(has_text="HLS does not play in this console").wait_for(
        timeout=STEP_MS)
    assert await page.locator("#hls-link").get_attribute("href"), "no master playlist link"
    values = await options.evaluate_all("(all) => all.map((o) => o.value)")
    assert values == ["0", "10"], values
    assert await page.locator("#player").evaluate("(v) => v.currentSrc.includes('.mp4')")
    await page.close()


async def test_console_in_chromium(start_server: ServerFactory) -> None:
    require_browser()
    with_hls_js = HLS_JS.is_file()
    if not with_hls_js and REQUIRE_BROWSER:
        pytest.fail(f"LIVETAPE_TEST_REQUIRE_BROWSER=1 but {NO_HLS_JS}")
    server = start_server(usage_flush_seconds=0.5)
    media = EncodedMedia.synthetic(7.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (file_id,), (entry,) = await record_all_of(server, api, media, "console-talk",
                                                   tags=["demo"])
        play_url = entry["play_set"][0]["url"]
        await wait_for(lambda: has_cover(api, file_id), timeout=30)
        async with chromium() as browser:
            context = await browser.new_context(viewport=VIEWPORT)
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("console", lambda m: problems.append(
                f"console: {m.text} ({m.location.get('url')})") if m.type == "error" else None)
            page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
                    if r.status >= 400 else None)
            await page.goto(f"{server.url}/console")

            # sign in: the secret goes in a password field and nowhere else
            await page.get_by_label("App id").fill(server.app_id)
            await page.get_by_label("Secret key").fill(server.secret_key)
            await screenshot(page, "1-sign-in")
            await page.get_by_role("button", name="Sign in").click()
            await page.locator("#library-table").wait_for(timeout=STEP_MS)
            assert await page.input_value("#secret-key") == ""
            assert server.secret_key not in await page.content()
            assert server.secret_key not in page.url
            cookies = {c["name"]: c for c in await context.cookies()}
            cookie = cookies["livetape_console"]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
            assert server.secret_key not in cookie["value"]

            # recording now: a running recording, stopped from its row
            async with publishing(server, EncodedMedia.synthetic(3.0), room="studio",
                                  user="bob", loop=True):
                recording_id = await api.start_recording("studio", "live-take", user_id="bob")
                await page.get_by_role("link", name="Recording now").click()
                row = page.locator(f'#live-rows tr[data-recording-id="{recording_id}"]')
                await row.filter(has_text="live-take \u00b7 file 1").wait_for(timeout=STEP_MS)
                cells = await row.locator("td").all_inner_texts()
                assert cells[:3] == ["studio", "bob", "camera"], cells
                await page.wait_for_function(
                    "(id) => { const r = document.querySelector("
                    "`#live-rows tr[data-recording-id=\"${id}\"]`);"
                    " return r && r.cells[3].textContent >= '0:02'; }",
                    arg=recording_id, timeout=STEP_MS)
                await screenshot(page, "2-recording-now")
                await page.get_by_role("button", name="Stop recording bob's camera in room "
                                       "studio").click()
                await page.locator("#live-empty").wait_for(timeout=STEP_MS)
                assert "Stopped bob's camera" in await page.inner_text("#status")
                stopped = await api.get_recording(recording_id)
                assert (stopped["state"], stopped["end_reason"]) == ("ended", "stopped")
                assert len(stopped["file_ids"]) == 1, stopped

            # library: both files, the recorded one with its cover thumbnail
            await page.get_by_role("link", name="Library").click()
            talk = page.locator(f'#library-table tr[data-file-id="{file_id}"]')
            await talk.wait_for(timeout=STEP_MS)
            await page.locator("#library-table tbody tr").nth(1).wait_for(timeout=STEP_MS)
            cover = talk.locator("img.cover")
            await page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                                         arg=await cover.element_handle(), timeout=STEP_MS)
            assert await cover.get_attribute("alt") == "Cover of console-talk"
            seconds = int(entry["duration"])
            assert f"\t{seconds // 60}:{seconds % 60:02d}\t" in await talk.inner_text()
            await screenshot(page, "3-library")

            # search by name prefix, then one that finds nothing
            await page.get_by_label("Name starts with").fill("console")
            await page.get_by_role("button", name="Search").click()
            await page.locator("#library-count").filter(has_text="1 file match").wait_for(
                timeout=STEP_MS)
            names = await page.locator("#library-table .file-link").all_inner_texts()
            assert names == ["console-talk"], names
            await page.get_by_label("Name starts with").fill("nothing-like-it")
            await page.keyboard.press("Enter")
            await page.locator("#library-empty").wait_for(timeout=STEP_MS)
            await page.get_by_role("button", name="Clear").click()
            await page.locator("#library-table tbody tr").nth(1).wait_for(timeout=STEP_MS)
            # filters: a tag, then creation dates (the browser's local days, as this machine's)
            await page.get_by_label("Tags").fill("demo")
            await page.get_by_role("button", name="Search").click()
            await page.locator("#library-count").filter(has_text="1 file match").wait_for(
                timeout=STEP_MS)
            assert "tags=demo" in page.url
            today = date.today()
            await page.get_by_role("button", name="Clear").click()
            await page.locator("#library-count").filter(has_text=re.compile("^2 files$")).wait_for(
                timeout=STEP_MS)
            await page.get_by_label("Created from").fill((today + timedelta(days=1)).isoformat())
            await page.get_by_role("button", name="Search").click()
            await page.locator("#library-empty").wait_for(timeout=STEP_MS)
            await page.get_by_label("Created from").fill(today.isoformat())
            await page.get_by_label("Created to (inclusive)").fill(today.isoformat())
            await page.get_by_role("button", name="Search").click()
            await page.locator("#library-count").filter(has_text="2 files match").wait_for(
                timeout=STEP_MS)

            # categories: create two (one inside the other), rename and delete the inner one
            await page.get_by_role("link", name="Categories").click()
            await page.get_by_label("Name", exact=True).fill("Lectures")
            await page.get_by_role("button", name="Create category").click()
            await page.locator("#class-tree .class-name", has_text="Lectures").wait_for(
                timeout=STEP_MS)
            await page.get_by_label("Name", exact=True).fill("Week 1")
            await page.get_by_label("Inside").select_option(label="Lectures")
            await page.get_by_role("button", name="Create category").click()
            await page.locator("#class-tree ul .class-name", has_text="Week 1").wait_for(
                timeout=STEP_MS)
            await page.get_by_role("button", name="Rename Week 1").click()
            await page.get_by_label("New name for Week 1").fill("Week one")
            await page.keyboard.press("Enter")
            await page.locator("#class-tree ul .class-name", has_text="Week one").wait_for(
                timeout=STEP_MS)
            await screenshot(page, "4-categories")
            await page.get_by_role("button", name="Delete Week one").click()
            await page.locator("#confirm").get_by_role("button", name="Delete category").click()
            await page.locator("#status").filter(has_text="Deleted the category").wait_for(
                timeout=STEP_MS)
            tree = (await api._call("GET", "/v1/vod/classes"))["class_set"]
            assert [(c["name"], c["children"]) for c in tree] == [("Lectures", [])], tree
            lectures = tree[0]["class_id"]

            # the file's page: play, snapshots, transcode
            await page.get_by_role("link", name="Library").click()
            await page.get_by_role("link", name="console-talk").click()
            player = page.locator("#player")
            await player.wait_for(timeout=STEP_MS)
            await player.evaluate("(v) => { v.muted = true; return v.play(); }")
            await page.wait_for_function(
                "() => { const v = document.getElementById('player');"
                " return v.error !== null || v.currentTime > 2; }", timeout=STEP_MS)
            played = await player.evaluate("(v) => ({error: v.error && v.error.message,"
                                           " time: v.currentTime, src: v.currentSrc})")
            assert played["error"] is None and played["time"] > 2, played
            assert played["src"].split("?")[0] == play_url.split("?")[0], played
            # paused on a frame for the screenshot (headless Chromium draws an ended video blank)
            await player.evaluate("(v) => new Promise((done) => { v.pause();"
                                  " v.addEventListener('seeked', done, {once: true});"
                                  " v.currentTime = 1; })")

            await page.get_by_label("Times (seconds)").fill("1, 2.5")
            await page.get_by_role("button", name="Take snapshots").click()
            await page.get_by_label("720p MP4 (20)").uncheck()
            await page.get_by_label("360p HLS (210)").check()
            await page.get_by_role("button", name="Transcode").click()
            await page.locator("#snapshots figure.snapshot").nth(1).wait_for(timeout=30_000)
            await page.locator('#renditions-table tr[data-definition="210"]').wait_for(
                timeout=30_000)
            await page.locator("#hls-link").wait_for(timeout=STEP_MS)
            await page.wait_for_function(
                "() => [...document.querySelectorAll('#jobs-table tbody tr')]"
                ".every(r => r.dataset.state === 'done')", timeout=30_000)
            await screenshot(page, "5-file")
            if with_hls_js:
                await play_hls(page, file_id, problems)
            await console_without_hls_js(context, server.url, file_id)

            # rename, re-classify and tag
            await page.get_by_label("Name", exact=True).fill("console-renamed")
            await page.get_by_label("Category", exact=True).select_option(label="Lectures")
            await page.get_by_label("Tags").fill("demo, week-1")
            await page.get_by_role("button", name="Save changes").click()
            await page.locator("#file-title").filter(has_text="console-renamed").wait_for(
                timeout=STEP_MS)
            changed = await api.get_file(file_id)
            assert (changed["file_name"], changed["class_id"], changed["tags"]) == (
                "console-renamed", lectures, ["demo", "week-1"]), changed

            # usage: the charts, with today's storage and playback traffic
            await page.get_by_role("link", name="Usage").click()
            await page.locator("#chart-storage circle").last.wait_for(timeout=STEP_MS)
            assert await page.locator("#chart-traffic rect.bar").count() >= 1
            label = await page.locator("#chart-storage").get_attribute("aria-labelledby")
            assert label == "chart-storage-title chart-storage-desc"
            await screenshot(page, "6-usage")

            # a page of another origin cannot use the cookie
            jobs_before = await api.list_jobs(file_id=file_id)
            with serve_html(CROSS_SITE_PAGE) as elsewhere:
                other = await context.new_page()
                await other.goto(elsewhere)
                attempt = await other.evaluate("([b, f]) => window.attempt(b, f)",
                                               [server.url, file_id])
                assert attempt["withHeader"] == "TypeError", attempt
                await other.close()
            assert await api.list_jobs(file_id=file_id) == jobs_before
            assert f'/v1/vod/files/{file_id}/convert HTTP/1.1" 401' in server.log_text()

            # delete: asked first, then gone from the library, its URL answers 404
            await page.get_by_role("link", name="Library").click()
            await page.get_by_role("link", name="console-renamed").click()
            await page.get_by_role("button", name="Delete this file").click()
            await page.locator("#confirm").get_by_role("button", name="Delete file").click()
            await page.locator("#status").filter(has_text="Deleted").wait_for(timeout=STEP_MS)
            await page.locator("#library-table").wait_for(timeout=STEP_MS)
            assert await page.locator(f'tr[data-file-id="{file_id}"]').count() == 0
            assert httpx.get(play_url).status_code == 404
            if not with_hls_js:  # asked for once: its 404, and Chromium's line about that
                problems[:] = [p for p in problems if "/console/vendor/hls.light" not in p]
            assert not problems, "\n".join(problems)

        print(f"\nscreenshots in {ARTIFACTS}")
    if not with_hls_js:
        pytest.skip(f"HLS PLAYBACK NOT CHECKED (the rest passed): {NO_HLS_JS}. Set "
                    "LIVETAPE_TEST_REQUIRE_BROWSER=1 to make this a failure.")


async def test_console_session_over_http(start_server: ServerFactory) -> None:
    server = start_server(console_session_seconds=600)
    other_id, other_key = server.create_app("other")
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), "mine")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        page = await http.get("/console")
        assert page.status_code == 200 and "<form id=\"sign-in\"" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

        wrong = await http.post("/console/session", json={"app_id": server.app_id,
                                                           "secret_key": other_key})
        assert wrong.status_code == 401 and wrong.json()["code"] == 1001, wrong.text
        wrong = await http.post("/console/session", json={"app_id": server.app_id,
                                                           "secret_key": "not-a-key"})
        assert wrong.status_code == 401 and wrong.json()["code"] == 1001, wrong.text
        assert "set-cookie" not in wrong.headers
        in_url = await http.post("/console/session", params={"secret_key": server.secret_key},
                                 json={"app_id": server.app_id, "secret_key": "x"})
        assert in_url.status_code == 400 and in_url.json()["code"] == 1000, in_url.text
        # login CSRF: a sign-in posted by another origin sets no cookie, "null" included
        # (sandboxed frames, data: and file: pages, cross-origin redirects send it)
        credentials = {"app_id": server.app_id, "secret_key": server.secret_key}
        for origin in ("http://evil.example", "null", "http://127.0.0.1:1", ""):
            for body in ({"json": credentials}, {"data": credentials}):
                foreign = await http.post("/console/session", headers={"Origin": origin},
                                          **body)
                assert (foreign.status_code, foreign.json()["code"]) == (401, 1001), origin
                assert "set-cookie" not in foreign.headers and not http.cookies, origin
        own = await http.post("/console/session", headers={"Origin": server.url},
                              data=credentials)
        assert own.status_code == 303 and "set-cookie" in own.headers
        http.cookies.clear()

        # a form post (no JavaScript) signs in too and goes to the console
        form = await http.post("/console/session", data={"app_id": server.app_id,
                                                         "secret_key": server.secret_key})
        assert form.status_code == 303 and form.headers["location"] == "/console"
        signed = await http.post("/console/session", json={"app_id": server.app_id,
                                                           "secret_key": server.secret_key})
        assert signed.status_code == 200, signed.text
        assert server.secret_key not in signed.text
        set_cookie = signed.headers["set-cookie"]
        assert set_cookie.startswith("livetape_console=")
        flags = {part.strip().lower() for part in set_cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/", "max-age=600"} <= flags, flags
        session = signed.cookies["livetape_console"]
        http.cookies.clear()  # each request below says which cookie it sends
        claims = jwt.decode(session, options={"verify_signature": False})
        assert claims["kind"] == "console" and "sub" not in claims, claims
        assert claims["app_id"] == server.app_id and claims["exp"] - claims["iat"] == 600
        for asset in ("console.html", "console.js", "api.js", "detail.js", "console.css"):
            text = (await http.get(f"/console/{asset}")).text
            assert server.secret_key not in text and session not in text
        # hls.js (when `make vendor` fetched it) under the same rules; nothing else there
        csp = page.headers["content-security-policy"]
        assert "worker-src blob:" in csp and "connect-src 'self';" in csp, csp
        vendor = await http.get("/console/vendor/hls.light.min.js")
        if HLS_JS.is_file():
            assert vendor.status_code == 200, vendor.text
            assert vendor.headers["content-type"].startswith("text/javascript")
            assert vendor.headers["content-security-policy"] == csp
        else:
            assert vendor.status_code == 404
        for probe in ("/console/vendor/hls.js.version", "/console/vendor/..%2Fconsole.js",
                      "/console/vendor/%2E%2E%2Fplayer.js", "/console/vendor/.hidden.js",
                      "/console/vendor/../../api/console.py", "/console/vendor"):
            assert (await http.get(probe)).status_code == 404, probe

        cookie = {"Cookie": f"livetape_console={session}"}
        with_header = {**cookie, **HEADER}
        # the cookie alone is refused: a cross-site form could send it
        bare = await http.get("/v1/app", headers=cookie)
        assert bare.status_code == 401 and bare.json()["code"] == 1001, bare.text
        assert "X-Livetape-Console" in bare.json()["message"]
        mine = await http.get("/v1/app", headers=with_header)
        assert mine.status_code == 200 and mine.json()["app_id"] == server.app_id
        listed = await http.get("/v1/vod/files", headers=with_header)
        assert [f["file_id"] for f in listed.json()["file_set"]] == [file_id], listed.text

        # another app's session is a server credential for that app only
        theirs = await http.post("/console/session", json={"app_id": other_id,
                                                           "secret_key": other_key})
        http.cookies.clear()
        foreign_headers = {"Cookie": f"livetape_console={theirs.cookies['livetape_console']}",
                           **HEADER}
        for method, path in (("GET", f"/v1/vod/files/{file_id}"),
                             ("PATCH", f"/v1/vod/files/{file_id}"),
                             ("POST", f"/v1/vod/files/{file_id}/snapshots"),
                             ("DELETE", f"/v1/vod/files/{file_id}")):
            reply = await http.request(method, path, headers=foreign_headers,
                                       json={"file_name": "stolen", "cover": True}
                                       if method in ("PATCH", "POST") else None)
            assert reply.status_code == 404, (method, reply.text)
        listed = await http.get("/v1/vod/files", headers=foreign_headers)
        assert listed.json()["total_count"] == 0, listed.text
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            assert (await api.get_file(file_id))["file_name"] == "mine"
        # it is not a bearer token, and a user token is not a session
        as_bearer = await http.get("/v1/app", headers={"Authorization": f"Bearer {session}"})
        assert as_bearer.status_code == 401
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            token = await api.mint_token("alice")
        user = await http.get("/v1/vod/files", headers={"Cookie": f"livetape_console={token}",
                                                        **HEADER})
        assert user.status_code == 401, user.text

        # rotating keeps the session (the old key is in grace); revoking that key ends it
        rotated = await http.post("/v1/app/keys/rotate", headers=with_header,
                                  json={"grace_seconds": 3600})
        assert rotated.status_code == 200, rotated.text
        assert (await http.get("/v1/app", headers=with_header)).status_code == 200
        keys = (await http.get("/v1/app/keys", headers=with_header)).json()["keys"]
        old = next(k["key_id"] for k in keys if k["state"] == "grace")
        revoked = await http.delete(f"/v1/app/keys/{old}", headers=with_header)
        assert revoked.status_code == 200, revoked.text
        ended = await http.get("/v1/app", headers=with_header)
        assert ended.status_code == 401 and ended.json()["code"] == 1001, ended.text
        assert "sign in again" in ended.json()["hint"]

        # signing out clears the cookie
        out = await http.delete("/console/session", headers=cookie)
        assert out.status_code == 200
        assert out.headers["set-cookie"].startswith('livetape_console="";')
        assert "max-age=0" in out.headers["set-cookie"].lower()
