"""Recording events over NATS: at least once, in order, through a control plane's restart,
and a control plane takes an event sent twice only once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as Nats

from livetape.config import Settings
from livetape.medianode.bus import events_subject
from livetape.medianode.outbox import EventOutbox
from livetape.medianode.remote import NatsMediaNode
from livetape_harness.nats import NatsServer
from tests.medianode.conftest import CLUSTER_DB


class Sink:
    """A control plane's events sink that fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[str, str, object]] = []
        self.failures = failures
        self.changed = asyncio.Event()

    async def _take(self, call: tuple[str, str, object]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the database is away")
        self.calls.append(call)
        self.changed.set()

    async def segment_opened(self, recording_id: str, seq: int, part: str) -> None:
        await self._take(("opened", recording_id, seq))

    async def segment_closed(self, recording_id: str, seq: int, part: str) -> None:
        await self._take(("closed", recording_id, seq))

    async def recording_ended(self, recording_id: str, reason: str) -> None:
        await self._take(("ended", recording_id, reason))

    async def until(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.calls) < count:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Nats]:
    connection = await nats.connect(nats_server.url)
    yield connection
    await connection.close()


def settings(server: NatsServer, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=CLUSTER_DB,
                    nats_url=server.url, node_timeout_seconds=0.5,
                    node_heartbeat_seconds=0.2)


EXPECTED = [("opened", "rec_1", 1), ("closed", "rec_1", 1), ("opened", "rec_1", 2),
            ("closed", "rec_1", 2), ("ended", "rec_1", "idle")]


async def report(outbox: EventOutbox) -> None:
    for seq in (1, 2):
        await outbox.segment_opened("rec_1", seq, f"/x/{seq}.mp4")
        await outbox.segment_closed("rec_1", seq, f"/x/{seq}.mp4")
    await outbox.recording_ended("rec_1", "idle")


async def test_events_wait_for_a_control_plane_and_arrive_in_order(
    bus: Nats, nats_server: NatsServer, tmp_path: Path,
) -> None:
    config = settings(nats_server, tmp_path)
    node_id = f"n-{uuid.uuid4().hex[:8]}"
    outbox = EventOutbox(bus, node_id, config)
    outbox.start()
    first, second = Sink(), Sink()
    control = NatsMediaNode(config, node_id)
    await control.start(first)
    await outbox.segment_opened("rec_1", 1, "/x/1.mp4")
    await first.until(1)
    await control.stop()  # the control plane restarts: the node keeps its events meanwhile
    await outbox.segment_closed("rec_1", 1, "/x/1.mp4")
    await outbox.segment_opened("rec_1", 2, "/x/2.mp4")
    await outbox.segment_closed("rec_1", 2, "/x/2.mp4")
    await outbox.recording_ended("rec_1", "idle")
    await asyncio.sleep(1.5)  # several tries with nobody to answer them
    control = NatsMediaNode(config, node_id)
    await control.start(second)
    try:
        await asyncio.wait_for(outbox.delivered("rec_1"), 10)
        assert first.calls + second.calls == EXPECTED
    finally:
        await control.stop()
        await outbox.stop()


async def test_a_failing_sink_gets_the_event_again(
    bus: Nats, nats_server: NatsServer, tmp_path: Path,
) -> None:
    config = settings(nats_server, tmp_path)
    node_id = f"n-{uuid.uuid4().hex[:8]}"
    sink = Sink(failures=2)
    control = NatsMediaNode(config, node_id)
    await control.start(sink)
    outbox = EventOutbox(bus, node_id, config)
    outbox.start()
    try:
        await report(outbox)
        await asyncio.wait_for(outbox.delivered("rec_1"), 10)
        assert sink.calls == EXPECTED and sink.failures == 0
    finally:
        await outbox.stop()
        await control.stop()


async def test_an_event_sent_twice_is_taken_once(
    bus: Nats, nats_server: NatsServer, tmp_path: Path,
) -> None:
    config = settings(nats_server, tmp_path)
    node_id = f"n-{uuid.uuid4().hex[:8]}"
    sink = Sink()
    control = NatsMediaNode(config, node_id)
    await control.start(sink)
    try:
        event = (b'{"epoch":"e1","seq":1,"kind":"segment_opened","recording_id":"rec_1",'
                 b'"segment":1,"part":"/x/1.mp4"}')
        for _ in range(3):  # its answer was lost: the node sends it again
            reply = await bus.request(events_subject(node_id), event, timeout=2)
            assert reply.data == b'{"ok":null}'
        other_run = event.replace(b'"e1"', b'"e2"')  # the node restarted: counting anew
        assert (await bus.request(events_subject(node_id), other_run, timeout=2)).data \
            == b'{"ok":null}'
        reply = await bus.request(events_subject(node_id), b'{"seq":"x"}', timeout=2)
        assert b"30000201" in reply.data  # an event that cannot be read is refused for good
        assert sink.calls == [("opened", "rec_1", 1)] * 2
    finally:
        await control.stop()
