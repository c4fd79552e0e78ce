"""The media node's contract, written against :class:`MediaNode` only and run for every
implementation (``make_node``): real WebRTC publishers, real recordings decoded with PyAV,
and every refusal a catalogued error that survives a wire (``NodeFailure``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import pytest

from livetape.client.media import EncodedMedia
from livetape.errors import Catalogue, ErrorKind, LivetapeError
from livetape.medianode.failure import NodeFailure
from livetape.medianode.interface import (
    LiveStream,
    MediaNode,
    PublishOffer,
    RecorderStart,
    TrickleRequest,
)
from livetape_harness.flow import offer_without_candidates
from tests.medianode.conftest import APP, ROOM, DirectPublisher, NodeFactory

Publishers = Callable[..., DirectPublisher]


@pytest.fixture(scope="module")
def camera() -> EncodedMedia:
    return EncodedMedia.synthetic(4, width=320, height=180, gop_seconds=1, flash_every=None)


@pytest.fixture(scope="module")
def microphone() -> EncodedMedia:
    return EncodedMedia.synthetic(4, video=False, flash_every=None)


@contextmanager
def refused(kind: ErrorKind) -> Iterator[None]:
    """The block raises ``kind``'s LivetapeError, and the error crosses a wire unchanged."""
    with pytest.raises(LivetapeError) as caught:
        yield
    error = caught.value
    assert error.kind is kind, error
    again = NodeFailure.model_validate_json(NodeFailure.of(error).model_dump_json()).error()
    assert (again.kind, again.body()) == (kind, error.body())


def start(recording_id: str, tmp: Path, user: str = "alice", record_type: str = "video",
          src_type: str = "camera") -> RecorderStart:
    return RecorderStart(recording_id=recording_id, app_id=APP, room_id=ROOM, user_id=user,
                         src_type=src_type, record_type=record_type,
                         work_dir=str(tmp / recording_id))


def offer(user: str, sdp: str, *, src_type: str = "camera", room: str = ROOM,
          member_limit: int = 50) -> PublishOffer:
    return PublishOffer(app_id=APP, room_id=room, user_id=user, src_type=src_type,
                        offer_sdp=sdp, member_limit=member_limit)


def decoded(part: Path) -> dict[str, int]:
    """Frames PyAV decodes from a segment file, by kind."""
    counts = {"video": 0, "audio": 0}
    with av.open(str(part)) as container:
        for stream in container.streams:
            for _ in container.decode(stream):
                counts[stream.type] += 1
            container.seek(0)
    return counts


async def stream_of(node: MediaNode, user: str) -> LiveStream:
    found = [s for s in await node.streams(APP, ROOM) if s.user_id == user]
    assert len(found) == 1, found
    return found[0]


async def test_publish_record_stop_delivers_decodable_segments(
    make_node: NodeFactory, publishers: Publishers, camera: EncodedMedia,
) -> None:
    n = await make_node()
    answer = await publishers(camera).publish(n.node, "alice")
    assert answer.etag == f'"{answer.publication_id}"'
    stream = await stream_of(n.node, "alice")
    assert (stream.publication_id, stream.src_type, stream.kinds, stream.codecs) == (
        answer.publication_id, "camera", ["audio", "video"], {"audio": "opus", "video": "h264"})
    assert stream.state == "connected" and stream.recording_ids == []
    assert await n.node.streams(APP, "elsewhere") == []
    assert [s.publication_id for s in await n.node.streams(APP)] == [answer.publication_id]

    started = await n.node.start_recording(start("rec_1", n.work))
    assert (started.recording_id, started.node_id) == ("rec_1", n.node.node_id)
    assert (await stream_of(n.node, "alice")).recording_ids == ["rec_1"]
    await n.events.wait_opened("rec_1")
    await asyncio.sleep(2)
    stats = await n.node.recording_stats("rec_1")
    assert stats is not None and stats.segment == 1
    assert stats.received["video"] > 30 and stats.written["video"] > 30, stats
    assert stats.written["audio"] > 50 and stats.dropped == 0, stats

    stopped = await n.node.stop_recording("rec_1")
    assert (stopped.reason, stopped.segments) == ("stopped", 1)
    assert [what for what, _ in n.events.of("rec_1")] == ["opened", "closed"]
    assert "rec_1" not in n.events.ended  # a stop is answered, not reported
    [part] = n.events.closed_parts("rec_1")
    frames = decoded(part)
    assert frames["video"] >= 60 and frames["audio"] >= 100, frames
    assert await n.node.recording_stats("rec_1") is None
    assert (await stream_of(n.node, "alice")).recording_ids == []
    with refused(Catalogue.NOT_FOUND):
        await n.node.stop_recording("rec_1")


async def test_every_segment_is_reported_closed_before_stop_answers(
    make_node: NodeFactory, publishers: Publishers, camera: EncodedMedia,
) -> None:
    n = await make_node(segment_seconds=1.5)
    await publishers(camera).publish(n.node, "alice")
    await n.node.start_recording(start("rec_1", n.work))
    await n.events.until(lambda: ("opened", 3) in n.events.of("rec_1"))
    stopped = await n.node.stop_recording("rec_1")
    parts = n.events.closed_parts("rec_1")
    assert stopped.segments == len(parts) >= 3
    assert [arg for what, arg in n.events.of("rec_1") if what == "opened"] == list(
        range(1, stopped.segments + 1))
    for part in parts[:-1]:
        assert decoded(part)["video"] >= 30, part  # a key frame a second: >= 1 s each
    assert decoded(parts[-1])["video"] >= 1  # stopped as it began


async def test_audio_recording_of_an_audio_only_stream(
    make_node: NodeFactory, publishers: Publishers, microphone: EncodedMedia,
) -> None:
    n = await make_node()
    await publishers(microphone).publish(n.node, "bob")
    assert (await stream_of(n.node, "bob")).kinds == ["audio"]
    with refused(Catalogue.USER_NOT_IN_ROOM):  # video of a stream without any
        await n.node.start_recording(start("rec_v", n.work, "bob"))
    await n.node.start_recording(start("rec_a", n.work, "bob", record_type="audio"))
    await n.events.wait_opened("rec_a")
    await asyncio.sleep(1)
    assert (await n.node.stop_recording("rec_a")).reason == "stopped"
    [part] = n.events.closed_parts("rec_a")
    frames = decoded(part)
    assert frames["video"] == 0 and frames["audio"] >= 50, frames


async def test_publisher_leaving_ends_the_recording_through_the_events(
    make_node: NodeFactory, publishers: Publishers, camera: EncodedMedia,
) -> None:
    n = await make_node()
    publisher = publishers(camera)
    await publisher.publish(n.node, "alice")
    await n.node.start_recording(start("rec_1", n.work))
    await n.events.wait_opened("rec_1")
    await publisher.close()  # no DELETE: a connection that dropped (it may resume)
    assert await n.events.wait_ended("rec_1") == "connection_lost"
    assert [what for what, _ in n.events.of("rec_1")] == ["opened", "closed", "ended"]
    assert decoded(n.events.closed_parts("rec_1")[0])["video"] > 0
    assert await n.node.streams(APP, ROOM) == []
    assert await n.node.recording_stats("rec_1") is None
    with refused(Catalogue.USER_NOT_IN_ROOM):
        await n.node.start_recording(start("rec_2", n.work))


async def test_unpublish_ends_the_stream_and_its_recording(
    make_node: NodeFactory, publishers: Publishers, camera: EncodedMedia,
) -> None:
    n = await make_node()
    answer = await publishers(camera).publish(n.node, "alice")
    await n.node.start_recording(start("rec_1", n.work))
    with refused(Catalogue.NOT_FOUND):  # another user's session
        await n.node.unpublish(APP, ROOM, answer.publication_id, "mallory")
    with refused(Catalogue.NOT_FOUND):  # in another room
        await n.node.unpublish(APP, "elsewhere", answer.publication_id, None)
    await n.node.unpublish(APP, ROOM, answer.publication_id, "alice")
    assert await n.events.wait_ended("rec_1") == "publisher_left"
    assert await n.node.streams(APP, ROOM) == []
    with refused(Catalogue.NOT_FOUND):
        await n.node.unpublish(APP, ROOM, answer.publication_id, None)


async def test_close_room_ends_its_streams_and_recordings(
    make_node: NodeFactory, publishers: Publishers, camera: EncodedMedia,
) -> None:
    n = await make_node()
    await publishers(camera).publish(n.node, "alice")
    await publishers(camera).publish(n.node, "carol", room="room-2")
    await n.node.start_recording(start("rec_1", n.work))
    await n.events.wait_opened("rec_1")
    await n.node.close_room(APP, ROOM)
    assert await n.events.wait_ended("rec_1") == "room_closed"
    assert n.events.closed_parts("rec_1")
    assert await n.node.streams(APP, ROOM) == []
    assert [s.user_id for s in await n.node.streams(APP)] == ["carol"]  # other rooms stay


async def test_stop_is_single_flight(
    make_node: NodeFactory, publishers: Publishers, camera: EncodedMedia,
) -> None:
    n = await make_node()
    await publishers(camera).publish(n.node, "alice")
    await n.node.start_recording(start("rec_1", n.work))
    await n.events.wait_opened("rec_1")
    first, second = await asyncio.gather(n.node.stop_recording("rec_1", "stopped"),
                                         n.node.stop_recording("rec_1", "shutdown"))
    assert first.reason == second.reason == "stopped"
    assert len(n.events.closed_parts("rec_1")) == 1


async def test_refusals(
    make_node: NodeFactory, publishers: Publishers, camera: EncodedMedia,
) -> None:
    n = await make_node()
    answer = await publishers(camera).publish(n.node, "alice")
    with refused(Catalogue.CONFLICT):  # alice's camera again
        await n.node.publish(offer("alice", await offer_without_candidates()))
    with refused(Catalogue.INVALID_PARAMETER):
        await n.node.publish(offer("bob", "v=0\r\nm=text 9 TCP 0\r\n"))
    with refused(Catalogue.USER_NOT_IN_ROOM):  # bob publishes nothing
        await n.node.start_recording(start("rec_b", n.work, "bob"))
    with refused(Catalogue.USER_NOT_IN_ROOM):  # alice publishes no screen
        await n.node.start_recording(start("rec_s", n.work, src_type="screen"))
    await n.node.start_recording(start("rec_1", n.work))
    with refused(Catalogue.CONFLICT):  # the id is in use
        await n.node.start_recording(start("rec_1", n.work))
    with refused(Catalogue.NOT_FOUND):
        await n.node.stop_recording("rec_unknown")
    assert await n.node.recording_stats("rec_unknown") is None

    def trickle(publication_id: str, *, user: str | None = None, if_match: str | None = None,
                sdpfrag: str = "a=end-of-candidates\r\n") -> TrickleRequest:
        return TrickleRequest(app_id=APP, room_id=ROOM, publication_id=publication_id,
                              user_id=user, if_match=if_match, sdpfrag=sdpfrag)

    with refused(Catalogue.NOT_FOUND):
        await n.node.trickle(trickle("0123456789abcdef"))
    with refused(Catalogue.NOT_FOUND):
        await n.node.trickle(trickle(answer.publication_id, user="mallory"))
    with refused(Catalogue.PRECONDITION_FAILED):
        await n.node.trickle(trickle(answer.publication_id, if_match='"another"'))
    restart = "a=ice-ufrag:new1\r\na=ice-pwd:new1new1new1new1new1new1\r\n"
    with refused(Catalogue.ICE_RESTART_UNSUPPORTED):
        await n.node.trickle(trickle(answer.publication_id, sdpfrag=restart))
    with refused(Catalogue.INVALID_PARAMETER):
        await n.node.trickle(trickle(answer.publication_id, sdpfrag="not sdp"))
    assert await n.node.trickle(trickle(answer.publication_id, if_match=answer.etag)) == 0


async def test_limits(make_node: NodeFactory) -> None:
    n = await make_node(max_publications=2, max_publications_per_user=1)
    sdp = await offer_without_candidates()
    await n.node.publish(offer("alice", sdp))
    with refused(Catalogue.SERVER_FULL):  # alice's one stream
        await n.node.publish(offer("alice", sdp, src_type="screen"))
    with refused(Catalogue.CONFLICT):  # a room of one
        await n.node.publish(offer("bob", sdp, member_limit=1))
    await n.node.publish(offer("bob", sdp, room="room-2"))
    with refused(Catalogue.SERVER_FULL):  # the node's two
        await n.node.publish(offer("carol", sdp, room="room-3"))
    assert [s.state for s in await n.node.streams(APP)] == ["connecting"] * 2
