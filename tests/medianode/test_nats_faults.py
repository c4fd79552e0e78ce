"""A broken path to a media node over a real nats-server gives the table's codes: each fault
is injected with LIVETAPE_TEST_NODE_FAULT (or a node that is not there), and the error names
the node and the operation, and says what to do."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from pydantic import ValidationError

from livetape.config import Settings
from livetape.errors import Catalogue, ErrorKind, LivetapeError
from livetape.medianode.in_process import InProcessMediaNode
from livetape.medianode.interface import PublishOffer, RecorderStart
from livetape.medianode.remote import NatsMediaNode
from livetape.medianode.service import NodeService
from livetape_harness.flow import offer_without_candidates
from livetape_harness.nats import NatsServer
from tests.medianode.conftest import APP, CLUSTER_DB, ROOM, EventLog

TIMEOUT = 0.5  # LIVETAPE_NODE_TIMEOUT_SECONDS of these tests

Serve = Callable[..., Awaitable[NatsMediaNode]]


@pytest.fixture
async def serve(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Serve]:
    """serve(fault) -> a control plane's NatsMediaNode for a node serving with that fault."""
    started: list[Any] = []

    async def make(fault: str | None = None, *, served: bool = True) -> NatsMediaNode:
        node_id = f"n-{uuid.uuid4().hex[:8]}"
        settings = Settings(data_dir=tmp_path / node_id, database_url=CLUSTER_DB,
                    nats_url=nats_server.url,
                            node_timeout_seconds=TIMEOUT, test_node_fault=fault)
        if served:
            service = NodeService(InProcessMediaNode(settings, node_id=node_id), settings)
            await service.start()
            started.append(service)
        client = NatsMediaNode(settings, node_id)
        await client.start(EventLog())
        started.append(client)
        return client

    yield make
    for part in reversed(started):
        await part.stop()


async def offer(user: str = "alice") -> PublishOffer:
    return PublishOffer(app_id=APP, room_id=ROOM, user_id=user, src_type="camera",
                        offer_sdp=await offer_without_candidates(), member_limit=50)


async def fails(kind: ErrorKind, call: Awaitable[Any], node: NatsMediaNode,
                operation: str) -> LivetapeError:
    with pytest.raises(LivetapeError) as caught:
        await call
    error = caught.value
    assert error.kind is kind, error
    body = error.body()
    assert f"node {node.node_id!r}" in body["message"] and operation in body["message"], body
    assert node.node_id in body["hint"], body
    return error


async def test_no_node_answers_at_once_30000207(serve: Serve) -> None:
    ghost = await serve(served=False)
    began = time.monotonic()
    error = await fails(Catalogue.NODE_UNREACHABLE, ghost.streams(APP), ghost, "streams")
    await fails(Catalogue.NODE_UNREACHABLE, ghost.stop_recording("rec_1"), ghost,
                "stop_recording")
    assert time.monotonic() - began < TIMEOUT  # "no responders": no waiting for a timeout
    assert error.kind.http_status == 503 and "LIVETAPE_NATS_URL" in error.hint


async def test_a_hanging_node_times_out_30000208_and_only_reads_are_retried(
    serve: Serve, nats_server: NatsServer,
) -> None:
    node = await serve("hang")
    seen: list[str] = []
    watcher = await nats.connect(nats_server.url)

    async def note(msg: Any) -> None:
        seen.append(msg.subject.rsplit(".", 1)[-1])

    await watcher.subscribe(f"livetape.node.{node.node_id}.*", cb=note)
    await watcher.flush()
    try:
        began = time.monotonic()
        await fails(Catalogue.NODE_TIMEOUT, node.start_recording(_start()), node,
                    "start_recording")
        once = time.monotonic() - began
        began = time.monotonic()
        error = await fails(Catalogue.NODE_TIMEOUT, node.recording_stats("rec_1"), node,
                            "recording_stats")
        twice = time.monotonic() - began
    finally:
        await watcher.close()
    assert TIMEOUT <= once < 2 * TIMEOUT and 2 * TIMEOUT <= twice < 3 * TIMEOUT
    assert seen == ["start_recording", "recording_stats", "recording_stats"]
    assert "LIVETAPE_NODE_TIMEOUT_SECONDS" in error.hint and error.kind.http_status == 504


def _start() -> RecorderStart:
    return RecorderStart(recording_id="rec_1", app_id=APP, room_id=ROOM, user_id="alice",
                         src_type="camera", record_type="video", work_dir="/tmp/unused")


async def test_garbage_is_30000301_and_the_wrong_shape_30000302(serve: Serve) -> None:
    garbage = await serve("garbage")
    error = await fails(Catalogue.NODE_REPLY_UNPARSABLE, garbage.streams(APP), garbage,
                        "streams")
    assert "the reply begins" in error.body()["message"]
    shape = await serve("shape")
    error = await fails(Catalogue.NODE_REPLY_MALFORMED, shape.publish(await offer()), shape,
                        "publish")
    assert "expected one of 'ok' or 'error'" in error.body()["message"]


@pytest.mark.parametrize(("field", "kind"), [
    ("publication_id", Catalogue.NODE_REPLY_NO_ID),
    ("answer_sdp", Catalogue.NODE_REPLY_NO_ENDPOINT),
    ("etag", Catalogue.NODE_REPLY_NO_ENDPOINT),
    ("ok", Catalogue.NODE_REPLY_NO_RESULT),
])
async def test_a_publish_answer_without_a_field(serve: Serve, field: str,
                                                kind: ErrorKind) -> None:
    node = await serve(f"drop:{field}")
    error = await fails(kind, node.publish(await offer()), node, "publish")
    assert (field if field != "ok" else "'ok'") in error.body()["message"]
    assert error.kind.http_status == 502


async def test_other_answers_without_a_field(serve: Serve) -> None:
    node = await serve("drop:state")  # a live stream's result field
    await node.publish(await offer())
    await fails(Catalogue.NODE_REPLY_NO_RESULT, node.streams(APP), node, "streams")
    node = await serve("drop:code")  # a refusal without its code
    await fails(Catalogue.NODE_REPLY_NO_RESULT, node.stop_recording("rec_x"), node,
                "stop_recording")
    node = await serve("drop:user_id")  # ids of a live stream
    await node.publish(await offer())
    await fails(Catalogue.NODE_REPLY_NO_ID, node.streams(APP, ROOM), node, "streams")


async def test_an_operation_the_node_does_not_know_is_30000414(
    serve: Serve, nats_server: NatsServer,
) -> None:
    forgetful = await serve("unknown-op")
    error = await fails(Catalogue.UNKNOWN_NODE_OPERATION, forgetful.streams(APP), forgetful,
                        "streams")
    assert error.kind.http_status == 502
    node = await serve()  # a healthy node asked for an operation it has not got
    raw = await nats.connect(nats_server.url)
    try:
        reply = await raw.request(f"livetape.node.{node.node_id}.frobnicate", b"{}", timeout=2)
        assert json.loads(reply.data)["error"]["code"] == 30000414
        reply = await raw.request(f"livetape.node.{node.node_id}.streams", b"{]", timeout=2)
        assert json.loads(reply.data)["error"]["code"] == 30000201  # a request it cannot read
    finally:
        await raw.close()
    assert await node.streams(APP) == []  # and it serves on


async def test_refusals_and_answers_still_cross_with_a_healthy_node(serve: Serve) -> None:
    node = await serve()
    answer = await node.publish(await offer())
    with pytest.raises(LivetapeError) as caught:
        await node.publish(await offer())
    assert caught.value.kind is Catalogue.CONFLICT
    [stream] = await node.streams(APP, ROOM)
    assert stream.publication_id == answer.publication_id


def test_the_fault_setting_is_checked() -> None:
    for good in ("hang", "garbage", "shape", "unknown-op", "drop:answer_sdp"):
        assert Settings(test_node_fault=good).test_node_fault == good
    for bad in ("crash", "drop:", "drop:Answer"):
        with pytest.raises(ValidationError):
            Settings(test_node_fault=bad)


async def test_stopped_node_service_answers_no_more(serve: Serve, nats_server: NatsServer,
                                                    tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "n", database_url=CLUSTER_DB,
                    nats_url=nats_server.url,
                        node_timeout_seconds=TIMEOUT)
    service = NodeService(InProcessMediaNode(settings, node_id="n-stopping"), settings)
    await service.start()
    client = NatsMediaNode(settings, "n-stopping")
    await client.start(EventLog())
    try:
        assert await client.streams(APP) == []
        await service.stop()
        await service.stop()  # idempotent
        await fails(Catalogue.NODE_UNREACHABLE, client.streams(APP), client, "streams")
    finally:
        await client.stop()
