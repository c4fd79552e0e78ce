"""Webhooks end to end: a real server records real files, a real receiver on loopback gets the
events and verifies them with the ``standardwebhooks`` library, unchanged; the event feed
(and ``livetape events tail``) gives the same events in the same order."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import record_all_of, wait_for
from livetape_harness.server import ServerFactory
from livetape_harness.webhook_receiver import Received, WebhookReceiver
from tests.monitoring.test_metrics import scrape, value

FAST = {"webhook_allow_private": "true", "webhook_retry_first_seconds": 0.2,
        "webhook_retry_max_seconds": 2, "webhook_poll_seconds": 0.2,
        "expiry_sweep_seconds": 1, "idle_timeout_seconds": 5}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    made = WebhookReceiver(fail_first=1)  # every message: 500 first, then 200
    yield made
    made.stop()


def verified(secret: str, received: list[Received]) -> list[dict[str, Any]]:
    """Each body, checked by Standard Webhooks' reference library as a receiver would."""
    checker = Webhook(secret)
    bodies = []
    for one in received:
        body = checker.verify(one.body, one.headers)
        assert body["id"] == one.message_id
        bodies.append(body)
    return bodies


def by_recording(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for event in events:
        recording = event["data"].get("recording_id")
        if recording:
            found[recording].append(event["id"])
    return dict(found)


async def until(condition: Any, *, timeout: float) -> None:
    """Wait for a plain (not async) condition to hold."""
    async def check() -> bool:
        return bool(condition())

    await wait_for(check, timeout=timeout)


async def feed(api: LivetapeClient) -> list[dict[str, Any]]:
    page = await api.events(0, limit=1000)
    return list(page["events"])


async def test_every_event_arrives_signed_in_order_and_the_feed_agrees(
        backend: str, start_server: ServerFactory, receiver: WebhookReceiver) -> None:
    server = start_server(backend, **FAST)
    receiver.start()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        hook = await api.create_webhook(receiver.url)
        assert hook["secret"].startswith("whsec_") and hook["webhook"]["events"] == []
        assert (await api.list_webhooks())[0]["secret"] == "whsec_****" + hook["secret"][-4:]
        (kept,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.0), "lesson")
        (gone,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.0), "dropped")
        await wait_for(lambda: jobs_ended(api, [kept, gone]), timeout=60)
        await api._call("DELETE", f"/v1/vod/files/{gone}")
        cursor = (await api.events(0, limit=1000))["next"]
        # `livetape events tail` long-polls from here: the next event ends its wait
        tail = subprocess.Popen(
            [sys.executable, "-m", "livetape", "events", "tail", "--url", server.url, "--key",
             server.secret_key, "--after", str(cursor), "--count", "1", "--wait", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        await asyncio.sleep(1.0)
        soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        await api._call("PATCH", f"/v1/vod/files/{kept}", json={"expire_time": soon})
        out, err = await asyncio.to_thread(tail.communicate, timeout=60)
        assert tail.returncode == 0, err
        tailed = json.loads(out.splitlines()[0])
        assert tailed["type"] == "file.expired" and tailed["data"]["file_id"] == kept

        events = await feed(api)
        types = [e["type"] for e in events]
        assert sorted(types) == sorted(
            ["recording.started", "file.ready", "recording.ended", "job.finished"] * 2
            + ["file.deleted", "file.expired"]), types
        assert [e["cursor"] for e in events] == sorted(e["cursor"] for e in events)
        await until(lambda: len({r.message_id for r in receiver.accepted()}) == len(events),
                    timeout=60)
        bodies = verified(hook["secret"], receiver.accepted())
        # at least once, duplicates only with the same id; each retried after its 500
        assert {b["id"] for b in bodies} == {e["id"] for e in events}
        for one in receiver.all():
            first = next(r for r in receiver.all() if r.message_id == one.message_id)
            assert first.status == 500, "the first attempt of each message was answered 500"
        # the same events, in the same order per recording, as the feed's
        assert by_recording(bodies) == by_recording(events)
        for body in bodies:
            twin = next(e for e in events if e["id"] == body["id"])
            assert (body["type"], body["timestamp"]) == (twin["type"], twin["timestamp"])

        ready = next(b for b in bodies if b["type"] == "file.ready"
                     and b["data"]["file_id"] == kept)["data"]
        assert ready["file_name"] == "lesson" and 2.0 < ready["duration"] < 4.0
        assert ready["size"] > 10_000 and ready["play_set"][0]["definition"] == 0
        played = httpx.get(ready["play_set"][0]["url"], timeout=30)  # signed, and it plays
        assert played.status_code == 404  # ... until it expired: the file is gone now
        ended = next(b for b in bodies if b["type"] == "recording.ended")["data"]
        assert ended["reason"] == "stopped" and len(ended["file_ids"]) == 1
        finished = next(b for b in bodies if b["type"] == "job.finished")["data"]
        assert finished["state"] == "done" and finished["outputs"][0]["kind"] == "cover"
        cover = httpx.get(finished["outputs"][0]["url"], timeout=30)
        assert cover.status_code in (200, 404)  # its file may have expired meanwhile

        deliveries = await api.deliveries(hook["webhook_id"], limit=100)
        assert len(deliveries) == len(events)
        scraped = await scrape(server)  # /metrics counts the attempts by outcome
        assert value(scraped, "livetape_webhook_deliveries_total", outcome="delivered") \
            == len(events)
        assert value(scraped, "livetape_webhook_deliveries_total", outcome="retried") \
            == len(events)
        for delivery in deliveries:
            assert delivery["state"] == "delivered", delivery
            assert [a["response_code"] for a in delivery["attempt_log"]][-2:] == [500, 200]
        again = deliveries[-1]  # the oldest event: sent again by hand, same webhook-id
        redone = await api.redeliver(hook["webhook_id"], again["delivery_id"])
        assert redone["state"] == "pending"
        await until(lambda: sum(r.message_id == again["event_id"]
                                for r in receiver.accepted()) == 2, timeout=30)
        verified(hook["secret"], receiver.accepted())


async def jobs_ended(api: LivetapeClient, file_ids: list[str]) -> bool:
    for file_id in file_ids:
        jobs = await api.list_jobs(file_id=file_id)
        if not jobs or any(j["state"] not in ("done", "failed") for j in jobs):
            return False
    return True


async def test_private_urls_are_refused_and_webhooks_belong_to_their_app(
        start_server: ServerFactory) -> None:
    server = start_server()  # LIVETAPE_WEBHOOK_ALLOW_PRIVATE unset
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        for url, needle in [("http://127.0.0.1:9/hook", "non-public"),
                            ("http://localhost/hook", "non-public"),
                            ("http://10.1.2.3/hook", "non-public"),
                            ("http://169.254.169.254/latest/meta-data", "non-public"),
                            ("http://[::1]/hook", "non-public"),
                            ("http://[::ffff:192.168.0.1]/hook", "non-public"),
                            ("ftp://example.org/hook", "http"),
                            ("http://user:pw@93.184.215.14/hook", "credentials")]:
            with pytest.raises(ApiError) as refused:
                await api.create_webhook(url)
            assert (refused.value.status, refused.value.code) == (400, 1000), url
            assert needle in refused.value.message, (url, refused.value.message)
        with pytest.raises(ApiError) as unknown:
            await api.create_webhook("http://93.184.215.14/hook", ["file.exploded"])
        assert (unknown.value.status, unknown.value.code) == (400, 1000)
        # a public address is taken (events limited to one type: nothing is sent here)
        hook = await api.create_webhook("http://93.184.215.14/hook", ["file.expired"])
        assert hook["webhook"]["events"] == ["file.expired"]
        assert hook["secret"] not in json.dumps(await api.list_webhooks())
        _, other_key = server.create_app("other")
        async with LivetapeClient(server.url, secret_key=other_key) as other:
            assert await other.list_webhooks() == []
            with pytest.raises(ApiError) as foreign:
                await other.delete_webhook(hook["webhook_id"])
            assert (foreign.value.status, foreign.value.code) == (404, 10008)
        await api.delete_webhook(hook["webhook_id"])
        assert await api.list_webhooks() == []
        with pytest.raises(ApiError) as gone:
            await api.deliveries(hook["webhook_id"])
        assert gone.value.status == 404
