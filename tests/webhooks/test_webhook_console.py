"""The console's Webhooks view in headless Chromium: add an endpoint (its secret shown once),
see its deliveries with their last attempt, send one again, delete the endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.browser import chromium, require_browser
from livetape_harness.flow import record_all_of
from livetape_harness.server import ServerFactory
from livetape_harness.webhook_receiver import WebhookReceiver
from tests.webhooks.test_webhooks import until

STEP_MS = 20_000


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    made = WebhookReceiver().start()
    yield made
    made.stop()


async def test_webhooks_in_the_console(start_server: ServerFactory,
                                       receiver: WebhookReceiver) -> None:
    require_browser()
    server = start_server(webhook_allow_private="true", webhook_poll_seconds=0.2)
    async with chromium() as browser:
        page = await browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        await page.goto(f"{server.url}/console")
        await page.get_by_label("App id").fill(server.app_id)
        await page.get_by_label("Secret key").fill(server.secret_key)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("link", name="Webhooks").click()
        await page.locator("#webhook-empty").wait_for(timeout=STEP_MS)
        await page.get_by_label("Receiver URL").fill(receiver.url)
        await page.get_by_label("Event types").fill("recording.started, file.ready")
        await page.get_by_role("button", name="Add webhook").click()
        secret = await page.locator("#webhook-secret").inner_text(timeout=STEP_MS)
        assert secret.startswith("whsec_")
        section = page.locator("section.webhook")
        await section.filter(has_text="recording.started, file.ready").wait_for(timeout=STEP_MS)
        assert secret not in await section.inner_text()  # listed masked

        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            await record_all_of(server, api, EncodedMedia.synthetic(2.5), "console-hook")
        await until(lambda: len(receiver.accepted()) == 2, timeout=30)
        rows = page.locator('tr[data-state="delivered"]')
        await page.wait_for_function(
            "() => document.querySelectorAll('tr[data-state=\"delivered\"]').length === 2",
            timeout=STEP_MS)
        cells = await rows.first.locator("td").all_inner_texts()
        assert cells[0] == "file.ready" and cells[4] == "200", cells
        await page.get_by_role("button", name="Send file.ready").click()
        await until(lambda: len(receiver.accepted()) == 3, timeout=30)
        await page.get_by_role("button", name=f"Delete webhook {receiver.url}").click()
        await page.locator("#webhook-empty").wait_for(timeout=STEP_MS)
        assert problems == []
