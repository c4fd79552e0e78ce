"""Never lost: the receiver is down (connections refused) for a minute while recordings end,
and the server is killed with -9 between a recording's end and its delivery; once the
receiver is back every event arrives, signed, in order per recording, duplicates only with
the same id."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import record_all_of, wait_for
from livetape_harness.server import ServerFactory
from livetape_harness.webhook_receiver import WebhookReceiver
from tests.webhooks.test_webhooks import by_recording, feed, until, verified

# PostgreSQL (a cluster's database) gets the full minute; SQLite the same story, shorter
OUTAGE_SECONDS = {"postgres": 60.0, "sqlite": 20.0}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    made = WebhookReceiver()  # not started: down
    yield made
    made.stop()


async def test_receiver_down_and_a_kill_9_lose_no_event(
        backend: str, start_server: ServerFactory, receiver: WebhookReceiver) -> None:
    server = start_server(backend, webhook_allow_private="true", webhook_retry_first_seconds=1,
                          webhook_retry_max_seconds=8, webhook_poll_seconds=0.5,
                          idle_timeout_seconds=5)
    down_since = time.monotonic()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        hook = await api.create_webhook(receiver.url)
        (first,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.0), "before")

        async def attempted() -> bool:  # its events written, the first tried and refused
            # (the later ones of the recording wait behind it: in order per recording)
            found = await api.deliveries(hook["webhook_id"], limit=100)
            return len(found) >= 3 and found[-1]["attempts"] >= 1 and any(
                d["event_type"] == "recording.ended" for d in found)

        await wait_for(attempted, timeout=60)
        # the recording ended and its events wait for the receiver: kill -9 the server now
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        server.start()
        (second,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.0), "after")
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS[backend] - (time.monotonic() - down_since)))
        events = await feed(api)
        refused = await api.deliveries(hook["webhook_id"], limit=100)
        assert not receiver.all() and all(d["state"] == "pending" for d in refused)
        receiver.start()
        back = time.monotonic()
        await until(lambda: {r.message_id for r in receiver.accepted()}
                    >= {e["id"] for e in events}, timeout=60)
        caught_up = time.monotonic() - back

        async def all_sent() -> bool:  # events written meanwhile (a job's end) too
            nonlocal events
            events = await feed(api)
            return {r.message_id for r in receiver.accepted()} >= {e["id"] for e in events}

        await wait_for(all_sent, timeout=60)
        bodies = verified(hook["secret"], receiver.accepted())
        assert {b["id"] for b in bodies} == {e["id"] for e in events}
        for body in bodies:  # a duplicate is the same event again
            twin = next(e for e in events if e["id"] == body["id"])
            assert (body["type"], body["data"].get("file_id")) == \
                (twin["type"], twin["data"].get("file_id"))
        firsts = list(dict.fromkeys(b["id"] for b in bodies))  # first arrival of each
        assert by_recording([next(b for b in bodies if b["id"] == i) for i in firsts]) == \
            by_recording(events)
        types = {e["type"] for e in events}
        assert {"recording.started", "file.ready", "recording.ended"} <= types
        assert {first, second} <= {e["data"].get("file_id") for e in events}
        delivered = await api.deliveries(hook["webhook_id"], limit=100)
        assert all(d["state"] == "delivered" for d in delivered), delivered
        attempts = [d["attempts"] for d in delivered]
        print(f"\noutage {OUTAGE_SECONDS[backend]:.0f} s ({backend}): {len(events)} events, "
              f"{len(bodies)} deliveries received ({len(bodies) - len(events)} duplicates), "
              f"attempts per event {min(attempts)}-{max(attempts)}, all delivered "
              f"{caught_up:.1f} s after the receiver came back")
