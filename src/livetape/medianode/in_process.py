"""The media node in this process: WHIP publications (aiortc) and the recorders on them.

Implements :class:`livetape.medianode.interface.MediaNode` over the live objects: the
:class:`RoomRegistry` of :class:`Publication` s (each with its pre-roll and liveness watch)
and one :class:`RecordingController` per recording. Nothing here touches the database or
the storage: segment files and recordings that end by themselves are reported to the
:class:`RecordingEvents` the control plane hands to :meth:`InProcessMediaNode.start`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from livetape import log_context
from livetape.cluster.slots import PublicationSlots, SlotClaim, limit_refusal
from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError
from livetape.live.ice_network import IceNetwork, IcePlan
from livetape.live.loss_recovery import LossPolicy
from livetape.live.preroll import Preroll
from livetape.live.publication import Liveness, Publication
from livetape.live.registry import RoomRegistry
from livetape.live.trickle import IceRestart, parse_sdpfrag
from livetape.medianode.interface import (
    LiveStream,
    NodeTotals,
    PublishAnswer,
    PublishOffer,
    RecorderStart,
    RecorderStarted,
    RecorderStats,
    RecorderStopped,
    RecordingEvents,
    TrickleRequest,
)
from livetape.medianode.tally import NodeTally
from livetape.recorder.controller import Limits, RecordingController

log = logging.getLogger(__name__)

# a publication's end reason that a recorder on it ends with too (else: publisher_left)
_PASSED_ON = ("room_closed", "shutdown")
_LEFT = "publisher_left"


@dataclass(eq=False)
class _Recorder:
    start: RecorderStart
    publication: Publication
    controller: RecordingController = field(init=False)
    segments: int = 0
    finishing: asyncio.Future[str] | None = None
    started_at: float = field(default_factory=time.monotonic)


class _RecorderEvents:
    """One recorder's events (:class:`livetape.recorder.controller.Events`), passed on."""

    def __init__(self, node: InProcessMediaNode, recorder: _Recorder) -> None:
        self._node, self._recorder = node, recorder
        self._id = recorder.start.recording_id

    async def segment_opened(self, seq: int, part: Path) -> None:
        self._recorder.segments += 1
        if self._recorder.segments == 1 and self._node.on_recording_started is not None:
            self._node.on_recording_started(time.monotonic() - self._recorder.started_at)
        await self._node.events.segment_opened(self._id, seq, str(part))

    async def segment_closed(self, seq: int, part: Path) -> None:
        await self._node.events.segment_closed(self._id, seq, str(part))

    async def ended(self, reason: str) -> None:
        await self._node._ended_by_itself(self._recorder, reason)


class InProcessMediaNode:
    def __init__(self, settings: Settings, node_id: str = "local", *,
                 on_recording_started: Callable[[float], None] | None = None) -> None:
        """``on_recording_started``: told, for each recording, the seconds from its start
        to its first file opened (its first frame written)."""
        self._settings = settings
        self._node_id = node_id
        self.on_recording_started = on_recording_started
        self._tally = NodeTally()
        self._registry = RoomRegistry()
        self._liveness = Liveness(settings.connect_timeout_seconds,
                                  settings.disconnect_grace_seconds,
                                  LossPolicy(nack_interval=settings.nack_interval_seconds,
                                             wait=settings.loss_wait_seconds))
        self._limits = Limits(
            segment_seconds=settings.segment_seconds,
            idle_timeout_seconds=settings.idle_timeout_seconds,
            fragment_seconds=settings.fragment_seconds,
            keyframe_request_lead_seconds=settings.keyframe_request_lead_seconds,
            keyframe_request_interval_seconds=settings.keyframe_request_interval_seconds,
            sync_wait_seconds=settings.sync_wait_seconds,
        )
        self._recorders: dict[str, _Recorder] = {}
        self._events: RecordingEvents | None = None
        self._network = IceNetwork(IcePlan.from_settings(settings))
        self._slots: PublicationSlots | None = None

    def share_limits(self, slots: PublicationSlots) -> None:
        """In a cluster: the app's, the user's and the room's limits count the publications of
        every node (each publish also takes a slot there, given back when it ends)."""
        self._slots = slots

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def events(self) -> RecordingEvents:
        if self._events is None:
            raise RuntimeError("the media node is not started")
        return self._events

    async def start(self, events: RecordingEvents) -> None:
        """Bind the shared ICE port (and learn the public address) if the settings ask."""
        await self._network.start()
        self._events = events

    async def stop(self) -> None:
        for publication in self._registry.all_publications():
            await publication.close("shutdown")
        await self._network.stop()

    @property
    def network(self) -> IceNetwork:
        return self._network

    def udp_drops(self) -> int:
        """Datagrams the kernel dropped (full receive buffer) on this process's UDP sockets."""
        return self._network.drops.total()

    def udp_stats(self) -> dict[str, int | None]:
        """The health endpoint's media figures: kernel drops and the granted receive buffer
        (``getsockopt``: the kernel doubles the ask for its bookkeeping; None: no socket yet)."""
        return {"udp_drops": self.udp_drops(),
                "udp_receive_buffer_bytes": self._network.buffers.granted}

    # publications ------------------------------------------------------------------------

    async def publish(self, offer: PublishOffer) -> PublishAnswer:
        """Every check and the slot's reservation happen with no ``await`` between them (the
        publication is in the registry before its answer is made), so concurrent offers
        cannot pass the limits together. In a cluster the publication then takes its slot
        among every node's (:mod:`livetape.cluster.slots`) before its answer is made."""
        live = self._registry.room(offer.app_id, offer.room_id)
        existing = live.publications.get((offer.user_id, offer.src_type))
        if existing is not None and not existing.closed:
            raise LivetapeError(Catalogue.CONFLICT,
                                f"{offer.user_id!r} already publishes {offer.src_type}")
        members = live.members()
        if offer.user_id not in members and len(members) >= offer.member_limit:
            raise LivetapeError(Catalogue.CONFLICT,
                                f"the room is full ({offer.member_limit} members)")
        self._check_limits(offer.app_id, offer.user_id)
        preroll = Preroll(self._settings.preroll_seconds, self._settings.preroll_max_bytes)
        publication = Publication(offer.app_id, offer.room_id, offer.user_id, offer.src_type,
                                  self._liveness, preroll=preroll, network=self._network)
        publication.on_end(self._on_publication_end)
        self._registry.add(publication)  # the slot is taken from here on
        try:
            if self._slots is not None:
                await self._slots.claim(publication.publication_id, SlotClaim(
                    app_id=offer.app_id, room_id=offer.room_id, user_id=offer.user_id,
                    src_type=offer.src_type, member_limit=offer.member_limit,
                    per_app=self._settings.max_publications_per_app,
                    per_user=self._settings.max_publications_per_user))
            answer = await publication.answer(offer.offer_sdp)
        except LivetapeError:  # no port left in LIVETAPE_ICE_UDP_PORTS
            await publication.close("refused")
            raise
        except Exception as exc:
            await publication.close("refused")
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"SDP offer refused: {exc}") from exc
        log.info("%s publishes %s in %s/%s (%s)", offer.user_id, offer.src_type, offer.app_id,
                 offer.room_id, publication.publication_id)
        return PublishAnswer(publication_id=publication.publication_id, answer_sdp=answer,
                             etag=f'"{publication.publication_id}"')

    def _check_limits(self, app_id: str, user_id: str) -> None:
        """Refuse a new publication past the node's, the app's or the user's limit."""
        settings, count = self._settings, self._registry.count
        limits = (
            (count(), settings.max_publications, "this server", "LIVETAPE_MAX_PUBLICATIONS"),
            (count(app_id), settings.max_publications_per_app, "this app",
             "LIVETAPE_MAX_PUBLICATIONS_PER_APP"),
            (count(app_id, user_id), settings.max_publications_per_user,
             f"user {user_id!r}", "LIVETAPE_MAX_PUBLICATIONS_PER_USER"),
        )
        for published, limit, whose, setting in limits:
            if limit is not None and published >= limit:
                raise limit_refusal(whose, published, limit, setting)

    def _session(self, app_id: str, room_id: str, publication_id: str,
                 user_id: str | None) -> Publication:
        """The publication a caller may reach: in its app and room, and its own for a user."""
        publication = self._registry.by_id(publication_id)
        if (publication is None
                or (publication.app_id, publication.room_id) != (app_id, room_id)
                or user_id not in (None, publication.user_id)):
            raise LivetapeError(Catalogue.NOT_FOUND, f"no WHIP session {publication_id!r}")
        return publication

    async def trickle(self, request: TrickleRequest) -> int:
        publication = self._session(request.app_id, request.room_id, request.publication_id,
                                    request.user_id)
        if request.if_match is not None:
            tags = {t.strip().removeprefix("W/") for t in request.if_match.split(",")}
            if not tags & {"*", f'"{publication.publication_id}"'}:  # the publish answer's ETag
                raise LivetapeError(Catalogue.PRECONDITION_FAILED,
                                    f"If-Match: {request.if_match[:100]}")
        try:
            added = await publication.add_ice_candidates(parse_sdpfrag(request.sdpfrag))
        except IceRestart as exc:
            raise LivetapeError(Catalogue.ICE_RESTART_UNSUPPORTED, str(exc)) from exc
        except ValueError as exc:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"trickle ICE: {exc}") from exc
        log.info("publication %s: %d trickled candidate(s)", publication.publication_id, added)
        return added

    async def unpublish(self, app_id: str, room_id: str, publication_id: str,
                        user_id: str | None) -> None:
        await self._session(app_id, room_id, publication_id, user_id).close()

    async def close_room(self, app_id: str, room_id: str) -> None:
        live = self._registry.drop(app_id, room_id)
        for publication in list(live.publications.values()) if live else []:
            await publication.close("room_closed")

    def live_rooms(self) -> dict[str, int]:
        """Publications by ``app_id/room_id`` on this node now (the cluster's registry entry)."""
        rooms: dict[str, int] = {}
        for p in self._registry.all_publications():
            key = f"{p.app_id}/{p.room_id}"
            rooms[key] = rooms.get(key, 0) + 1
        return rooms

    async def streams(self, app_id: str, room_id: str | None = None) -> list[LiveStream]:
        found = [p for p in self._registry.all_publications()
                 if p.app_id == app_id and room_id in (None, p.room_id)]
        found.sort(key=lambda p: (p.room_id, p.user_id, p.src_type))
        return [LiveStream(
            app_id=p.app_id, room_id=p.room_id, user_id=p.user_id, src_type=p.src_type,
            publication_id=p.publication_id, state=p.state, kinds=sorted(p.kinds),
            codecs={k: p.codec(k) for k in sorted(p.kinds)},
            recording_ids=sorted(r.start.recording_id for r in self._recorders.values()
                                 if r.publication is p and r.finishing is None),
        ) for p in found]

    async def _on_publication_end(self, publication: Publication) -> None:
        self._registry.remove(publication)
        if self._slots is not None:
            self._slots.release(publication.publication_id)
        await self._tally.publication_ended(publication)
        end = publication.end_reason or ""
        # a deleted WHIP session left on purpose; any other end is a connection that dropped
        reason = end if end in _PASSED_ON else _LEFT if end == "left" else "connection_lost"
        for recorder in list(self._recorders.values()):
            if recorder.publication is publication:
                await self._ended_by_itself(recorder, reason)

    # recorders ---------------------------------------------------------------------------

    async def start_recording(self, start: RecorderStart) -> RecorderStarted:
        if start.recording_id in self._recorders:
            raise LivetapeError(Catalogue.CONFLICT, f"recording {start.recording_id!r} runs")
        publication = self._registry.publication(start.app_id, start.room_id, start.user_id,
                                                 start.src_type)
        if publication is None or publication.closed:
            raise LivetapeError(Catalogue.USER_NOT_IN_ROOM,
                                f"user {start.user_id!r} publishes no {start.src_type} stream")
        if start.record_type == "video" and "video" not in publication.kinds:
            raise LivetapeError(Catalogue.USER_NOT_IN_ROOM, "the stream has no video track")
        if "audio" not in publication.kinds and start.record_type == "audio":
            raise LivetapeError(Catalogue.USER_NOT_IN_ROOM, "the stream has no audio track")
        recorder = _Recorder(start, publication)
        recorder.controller = RecordingController(
            start.recording_id, publication, audio_only=start.record_type == "audio",
            work_dir=Path(start.work_dir), limits=self._limits,
            events=_RecorderEvents(self, recorder), first_seq=start.first_seq,
        )
        self._recorders[start.recording_id] = recorder
        # the recorder's tasks log with the recording's app, room and id
        with log_context.bound(app_id=start.app_id, room_id=start.room_id,
                               recording_id=start.recording_id):
            await recorder.controller.start()
        return RecorderStarted(recording_id=start.recording_id, node_id=self._node_id)

    async def stop_recording(self, recording_id: str,
                             reason: str = "stopped") -> RecorderStopped:
        recorder = self._recorders.get(recording_id)
        if recorder is None:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no recorder {recording_id!r}")
        reason = await self._finish(recorder, reason)
        self._forget(recorder)
        return RecorderStopped(recording_id=recording_id, reason=reason,
                               segments=recorder.segments)

    async def recording_stats(self, recording_id: str) -> RecorderStats | None:
        recorder = self._recorders.get(recording_id)
        if recorder is None:
            return None
        controller = recorder.controller
        return RecorderStats(
            recording_id=recording_id, segment=controller.segment_seq,
            received=dict(controller.samples_received), written=dict(controller.written),
            dropped=controller.dropped,
        )

    async def _finish(self, recorder: _Recorder, reason: str) -> str:
        """Stop the recorder and close its files; single-flight (the first reason wins)."""
        if recorder.finishing is None:
            recorder.finishing = asyncio.ensure_future(self._close(recorder, reason))
        return await asyncio.shield(recorder.finishing)

    @staticmethod
    async def _close(recorder: _Recorder, reason: str) -> str:
        await recorder.controller.stop()  # every segment_closed is delivered by then
        return reason

    async def _ended_by_itself(self, recorder: _Recorder, reason: str) -> None:
        """A recorder that ended without stop_recording (publisher gone, idle, failed): the
        control plane hears of it, unless a stop_recording already answered for it."""
        reason = await self._finish(recorder, reason)
        try:
            if self._recorders.get(recorder.start.recording_id) is recorder:
                await self.events.recording_ended(recorder.start.recording_id, reason)
        finally:
            self._forget(recorder)

    def _forget(self, recorder: _Recorder) -> None:
        if self._recorders.get(recorder.start.recording_id) is recorder:
            del self._recorders[recorder.start.recording_id]
            self._tally.recorder_ended(recorder.controller)

    async def totals(self) -> NodeTotals:
        """What this node took in and wrote since it started, the live ones included."""
        found = await self._tally.totals(self._registry.all_publications(),
                                         [r.controller for r in self._recorders.values()])
        return found.model_copy(update={"udp_drops": self.udp_drops()})
