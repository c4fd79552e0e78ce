"""Headless Debian Chromium for tests, driven by Playwright's async API.

The browser is the system package (``apt-get install -y chromium``), never Playwright's own
download (``playwright install`` needs the internet). When Chromium or the ``playwright``
package is missing the test is skipped with a loud reason, or fails when
``LIVETAPE_TEST_REQUIRE_BROWSER=1`` (as CI sets it).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path(os.environ.get("LIVETAPE_TEST_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("LIVETAPE_TEST_REQUIRE_BROWSER") == "1"

# Flags measured to work as root on these machines; the background-networking ones keep
# Chromium from reaching for outside hosts (there is no internet).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


def browser_missing() -> str | None:
    """Why no browser test can run here, or None when Chromium and Playwright are present."""
    problems = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"{CHROMIUM} not found (apt-get install -y chromium chromium-driver)")
    if importlib.util.find_spec("playwright") is None:
        problems.append("the 'playwright' Python package is not installed (pip install "
                        "playwright; do NOT run 'playwright install')")
    return "; ".join(problems) or None


def require_browser() -> None:
    """Skip the calling test, loudly, when no browser is available; fail instead if required.

    Call it first thing in a test, before any slow setup.
    """
    missing = browser_missing()
    if missing is None:
        return
    if REQUIRE_BROWSER:
        pytest.fail(f"LIVETAPE_TEST_REQUIRE_BROWSER=1 but {missing}")
    pytest.skip(f"BROWSER TEST SKIPPED: {missing}. Set LIVETAPE_TEST_REQUIRE_BROWSER=1 to make "
                "this a failure.")


@asynccontextmanager
async def chromium(*extra_args: str, **launch_options: Any) -> AsyncIterator[Browser]:
    """A headless Debian Chromium for the block: ``async with chromium() as browser: ...``.

    Skips (or fails, see :func:`require_browser`) when it cannot run here. ``extra_args`` are
    added to :data:`CHROMIUM_ARGS`; ``launch_options`` go to Playwright's ``launch``.
    """
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=[*CHROMIUM_ARGS, *extra_args], **launch_options,
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextmanager
def serve_html(html: str) -> Iterator[str]:
    """Serve ``html`` at ``/`` from a throwaway HTTP server on 127.0.0.1; yields its URL.

    Its port differs from any livetape server's, so the page is a separate origin.
    """
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# Screen capture (getDisplayMedia) in headless Chromium, measured with Debian's Chromium 156:
# - with CHROMIUM_ARGS (--use-fake-ui-for-media-stream + --use-fake-device-for-media-stream)
#   getDisplayMedia answers at once with Chromium's fake screen ("screen:-3:0", a generated
#   pattern, 1280x720 at 30 fps unless constraints ask otherwise; "Fake audio" with audio);
# - a real capture of rendered pixels: drop --use-fake-ui-for-media-stream (with it the fake
#   UI picks a screen, and without the fake device that fails: NotReadableError) and add
#   --auto-select-tab-capture-source-by-title=TITLE: the picker is skipped and the tab with
#   that title is captured at its viewport size, 30 fps, with "Tab audio". Closing that tab
#   ends the tracks, like the user's "Stop sharing". --auto-accept-this-tab-capture does the
#   same for getDisplayMedia({preferCurrentTab: true}) (the calling tab itself). The camera
#   then needs the permission granted by the browser context (permissions=["camera",
#   "microphone"]); --use-fake-device-for-media-stream still supplies it.
# --auto-select-desktop-capture-source=... alone (no fake UI, no fake device) waits for a
# picker that headless never shows.
TAB_CAPTURE_ARGS = [arg for arg in CHROMIUM_ARGS if arg != "--use-fake-ui-for-media-stream"]


@asynccontextmanager
async def chromium_capturing_tab(title: str, **launch_options: Any) -> AsyncIterator[Browser]:
    """A headless Chromium whose getDisplayMedia captures the tab titled ``title`` (real
    pixels, no picker); grant camera/microphone on the context (``new_context(permissions=
    ["camera", "microphone"])``) to use the fake camera too. Skips like :func:`chromium`."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=[*TAB_CAPTURE_ARGS, f"--auto-select-tab-capture-source-by-title={title}"],
            **launch_options,
        )
        try:
            yield browser
        finally:
            await browser.close()


def page_messages(page: Page) -> list[str]:
    """The page's console lines and uncaught errors, collected from now on (for failures)."""
    found: list[str] = []
    page.on("console", lambda m: found.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: found.append(f"pageerror: {e}"))
    return found


async def open_sdk_page(page: Page, page_url: str, server_url: str, token: str, room: str,
                        timeout_ms: float) -> list[str]:
    """Load a test page built on the SDK (it shows ``#ready`` and exposes ``window.steps``),
    connect it to ``room``; returns its collected console lines."""
    found = page_messages(page)
    await page.goto(page_url)
    await page.locator("#ready").filter(has_text="ready").wait_for(timeout=timeout_ms)
    await page.evaluate("([u, t, r]) => window.steps.connect(u, t, r)", [server_url, token, room])
    return found
