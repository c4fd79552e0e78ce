"""The seam between the control plane and a media node: one small typed protocol.

The control plane (apps, rooms' records, recording rules and Recording rows, the library,
billing) reaches live media only through a :class:`MediaNode`: WHIP publications and the
recorders that write them to disk live on the node. Every call is a request answered by a
typed result made of plain values (ids, strings, numbers, lists), so the same calls can go
over a message bus (request/reply) unchanged; failures are the catalogue's
:class:`~livetape.errors.LivetapeError`, which :mod:`livetape.medianode.failure` carries
across a wire with its code, message and extra fields intact.

The other direction is :class:`RecordingEvents`, which the control plane hands to the node
when it starts it: the node reports each recording's segment files and a recording it ended
by itself there, and reaches the database and the storage through nothing else.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field

SrcType = Annotated[str, Field(pattern="^(camera|screen)$")]


class Message(BaseModel):
    """A request or result crossing the seam: immutable, plain values, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PublishOffer(Message):
    """Publish a user's stream into a room (a WHIP POST the control plane admitted)."""

    app_id: str
    room_id: str
    user_id: str
    src_type: SrcType
    offer_sdp: str
    member_limit: int = Field(gt=0, description="members the room admits (by its type)")


class PublishAnswer(Message):
    publication_id: str
    answer_sdp: str
    etag: str = Field(description="the session's ETag (quoted), for If-Match on trickle")


class TrickleRequest(Message):
    """ICE candidates a WHIP client sent after its offer (RFC 9725 section 4.3.1)."""

    app_id: str
    room_id: str
    publication_id: str
    user_id: str | None = Field(description="the caller; None for the app's server")
    if_match: str | None
    sdpfrag: str


class LiveStream(Message):
    """A publication on the node, connecting or connected."""

    app_id: str
    room_id: str
    user_id: str
    src_type: SrcType
    publication_id: str
    state: str = Field(description="connecting, connected (ICE and DTLS up)")
    kinds: list[str] = Field(description="'audio', 'video': sorted")
    codecs: dict[str, str | None] = Field(
        description="kind -> codec ('h264', 'vp8', 'opus'; null until negotiated)")
    recording_ids: list[str] = Field(description="the recorders writing this stream")


class RecorderStart(Message):
    """Record one stream (chosen by app, room, user and source) as ``recording_id``."""

    recording_id: str
    app_id: str
    room_id: str
    user_id: str
    src_type: SrcType
    record_type: str = Field(pattern="^(video|audio)$")
    work_dir: str = Field(description="where the segment files are written")
    first_seq: int = Field(1, ge=1, description="the number of its first segment file (a "
                           "resumed recording continues the numbers of its earlier files)")


class RecorderStarted(Message):
    recording_id: str
    node_id: str


class RecorderStopped(Message):
    recording_id: str
    reason: str = Field(description="why it ended: the first reason given wins")
    segments: int = Field(description="segment files opened (each was reported closed)")


class RecorderStats(Message):
    recording_id: str
    segment: int = Field(description="the file being written; 0 before the first key frame")
    received: dict[str, int] = Field(description="samples received, by kind")
    written: dict[str, int] = Field(description="samples written, by kind")
    dropped: int = Field(description="damaged video frames left out")


class NodeTotals(Message):
    """What a media node took in and wrote since it started (its process's metrics)."""

    publications: int = Field(description="live now")
    recordings: int = Field(description="running now")
    rtp_packets: int = Field(description="RTP packets received")
    media_bytes: dict[str, int] = Field(description="depacketized media bytes, by kind")
    frames_written: dict[str, int] = Field(description="frames written to files, by kind")
    frames_dropped: int = Field(description="damaged video frames left out")
    udp_drops: int = Field(default=0, description="datagrams the kernel dropped on its sockets")
    nack_requests: int = Field(default=0, description="video packets asked for again (NACK)")
    packets_recovered: int = Field(default=0, description="missing video packets that came")
    video_gaps: int = Field(default=0, description="missing video packets given up")
    plis: int = Field(default=0, description="key frame requests (RTCP PLI) sent")

    @classmethod
    def combined(cls, parts: list[NodeTotals]) -> NodeTotals:
        """Several media processes' totals as one (a server with LIVETAPE_MEDIA_PROCESSES)."""
        def by_kind(name: str) -> dict[str, int]:
            kinds = sorted({k for p in parts for k in getattr(p, name)})
            return {k: sum(getattr(p, name).get(k, 0) for p in parts) for k in kinds}

        return cls(
            publications=sum(p.publications for p in parts),
            recordings=sum(p.recordings for p in parts),
            rtp_packets=sum(p.rtp_packets for p in parts),
            media_bytes=by_kind("media_bytes"), frames_written=by_kind("frames_written"),
            frames_dropped=sum(p.frames_dropped for p in parts),
            udp_drops=sum(p.udp_drops for p in parts),
            nack_requests=sum(p.nack_requests for p in parts),
            packets_recovered=sum(p.packets_recovered for p in parts),
            video_gaps=sum(p.video_gaps for p in parts), plis=sum(p.plis for p in parts),
        )


class RecordingEvents(Protocol):
    """What a node reports to the control plane about the recordings it runs.

    ``segment_opened`` comes before a segment's first byte is written, ``segment_closed``
    once its file is complete (the control plane finalizes it into the library). A node
    delivers every ``segment_closed`` of a recording before ``stop_recording`` answers.
    """

    async def segment_opened(self, recording_id: str, seq: int, part: str) -> None: ...

    async def segment_closed(self, recording_id: str, seq: int, part: str) -> None: ...

    async def recording_ended(self, recording_id: str, reason: str) -> None:
        """The node ended a recording by itself: ``publisher_left`` (its WHIP session was
        deleted), ``connection_lost`` (the publisher's connection dropped or timed out),
        ``room_closed``, ``shutdown``, ``idle`` (no media), ``failed``. Not called for
        ``stop_recording``."""
        ...


class MediaNode(Protocol):
    """Live WHIP publications and their recorders, as the control plane sees them.

    Errors (:class:`~livetape.errors.LivetapeError`) by call: ``publish``: CONFLICT (the user
    already publishes that source, or the room is full), SERVER_FULL (the node's, the app's
    or the user's publication limit), INVALID_PARAMETER (an offer that cannot be answered);
    ``trickle``: NOT_FOUND, PRECONDITION_FAILED, ICE_RESTART_UNSUPPORTED, INVALID_PARAMETER;
    ``unpublish``: NOT_FOUND; ``start_recording``: USER_NOT_IN_ROOM (no such live stream, or
    it lacks the track the record type needs), CONFLICT (the recording id is in use);
    ``stop_recording``: NOT_FOUND.
    """

    @property
    def node_id(self) -> str: ...

    async def start(self, events: RecordingEvents) -> None:
        """Start serving; recordings' events go to ``events``."""
        ...

    async def stop(self) -> None:
        """End every publication (their recorders end with ``shutdown``). Idempotent."""
        ...

    async def publish(self, offer: PublishOffer) -> PublishAnswer: ...

    async def trickle(self, request: TrickleRequest) -> int:
        """Add the candidates; returns how many were added."""
        ...

    async def unpublish(self, app_id: str, room_id: str, publication_id: str,
                        user_id: str | None) -> None:
        """End a publication; a user (``user_id``) reaches only their own."""
        ...

    async def close_room(self, app_id: str, room_id: str) -> None:
        """End the room's publications (recorders still running end with ``room_closed``)."""
        ...

    async def streams(self, app_id: str, room_id: str | None = None) -> list[LiveStream]:
        """The app's live streams (in one room if given), by room, user and source."""
        ...

    async def start_recording(self, start: RecorderStart) -> RecorderStarted: ...

    async def stop_recording(self, recording_id: str,
                             reason: str = "stopped") -> RecorderStopped:
        """Stop a recorder and close its files; single-flight: a recorder already ending
        (by itself or by an earlier call) answers with the reason it ended with."""
        ...

    async def recording_stats(self, recording_id: str) -> RecorderStats | None:
        """A running recorder's counters; None when the node runs no such recorder."""
        ...
