"""One WHIP session: an aiortc peer connection receiving a user's camera or screen stream.

The answer prefers H.264 (packetization-mode 1) and Opus. Frames come out of aiortc still
encoded (see :mod:`livetape.live.ingest`), are stamped with the sender's clock,
and go to whoever subscribed (a recorder), straight from aiortc's receiver on the event
loop (no queue, no thread). Beside that, only the current GOP is kept (the pre-roll, see
:mod:`livetape.live.preroll`), so a recording can start at the key frame before its request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, sdp
from aiortc.codecs import CODECS
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcpeerconnection import find_common_codecs
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from livetape.live import interop, lean_receive
from livetape.live.clock import SenderClock
from livetape.live.ice_network import IceNetwork, IcePlan
from livetape.live.ingest import attach
from livetape.live.loss_recovery import LossPolicy, LossRecovery, attach_audio
from livetape.live.loss_recovery import attach as recover_losses
from livetape.live.preroll import Preroll
from livetape.live.trickle import SdpFragment, add_candidates
from livetape.recorder.bitstream import is_keyframe
from livetape.recorder.media_source import Listener, Sample

log = logging.getLogger(__name__)

def _plan_transceivers(pc: RTCPeerConnection, offer_sdp: str) -> None:
    """Create one receive-only transceiver per offered m-line, with our codec preference.

    aiortc's answer keeps the offer's codec order (browsers list VP8 first), and applies
    preferences when the offer is set, so transceivers are made before that: video keeps
    only H.264 packetization-mode 1 when the offer has it (else VP8), audio only Opus.
    """
    offer = sdp.SessionDescription.parse(offer_sdp)
    kinds = [m.kind for m in offer.media if m.kind in ("audio", "video")]
    if len(kinds) != len(set(kinds)):
        # one stream is one camera (or screen) and its microphone; publish others separately
        raise ValueError("at most one audio and one video track per WHIP session")
    for media in offer.media:
        if media.kind not in ("audio", "video"):
            continue
        caps = RTCRtpReceiver.getCapabilities(media.kind)
        assert caps is not None
        common = find_common_codecs(CODECS[media.kind], media.rtp.codecs)
        offered = {c.mimeType.lower() for c in common}
        if media.kind == "video":
            wanted = "video/h264" if "video/h264" in offered else "video/vp8"
        else:
            wanted = "audio/opus"
        if wanted not in offered:
            raise ValueError(f"the offer's {media.kind} has no codec livetape records "
                             f"(H.264, VP8 or Opus): {sorted(offered) or 'none'}")
        preferred = [
            c for c in caps.codecs
            if c.mimeType.lower() == wanted
            and (wanted != "video/h264" or str(c.parameters.get("packetization-mode")) == "1")
        ]
        preferred += [c for c in caps.codecs if c.mimeType.lower() == f"{media.kind}/rtx"]
        transceiver = pc.addTransceiver(media.kind, direction="recvonly")
        transceiver.setCodecPreferences(preferred)


@dataclass(frozen=True)
class Liveness:
    """How long a publication may take to connect, and stay silent once connected."""

    connect_timeout: float
    disconnect_grace: float
    # how lost video packets are asked for and waited for
    loss: LossPolicy = field(default_factory=LossPolicy)


class Publication:
    """A published stream; implements :class:`livetape.recorder.media_source.MediaSource`.

    A publication that has not connected within ``connect_timeout`` of its answer, or that
    received nothing (no frame, no sender report) for ``disconnect_grace`` once connected,
    closes itself: a session that never connects, or lost its network, holds no slot.
    """

    def __init__(self, app_id: str, room_id: str, user_id: str, src_type: str,
                 liveness: Liveness, *, preroll: Preroll | None = None,
                 network: IceNetwork | None = None) -> None:
        self.publication_id = secrets.token_hex(8)
        self.app_id, self.room_id = app_id, room_id
        self.user_id, self.src_type = user_id, src_type
        self._liveness = liveness
        self._network = network or IceNetwork(IcePlan())
        self._connected = False
        self._last_heard = time.monotonic()
        self.end_reason: str | None = None
        interop.install()  # GStreamer's and FFmpeg's WHIP clients need it
        lean_receive.install()  # media datagrams skip aioice's STUN parse
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._receivers: dict[str, RTCRtpReceiver] = {}
        self._clocks: dict[str, SenderClock] = {}
        self._codecs: dict[str, str] = {}
        self._recovery: LossRecovery | None = None  # the video receiver's
        self._plis_asked = 0  # key frame requests (PLI) from the recorder
        self._listeners: list[Listener] = []
        self.preroll = preroll or Preroll(0, 0)
        self._tasks: set[asyncio.Future[None]] = set()
        self._on_end: list[Callable[[Publication], Awaitable[None]]] = []
        self._closed = False
        # what came in, for the node's metrics: frames and their bytes by kind
        self.frames_received = {"audio": 0, "video": 0}
        self.bytes_received = {"audio": 0, "video": 0}
        self._packets_at_close: int | None = None

    # negotiation -------------------------------------------------------------------------

    async def answer(self, offer_sdp: str) -> str:
        """Apply a WHIP offer and return the SDP answer (ICE candidates included)."""
        self._pc.on("connectionstatechange", self._on_connection_state)
        _plan_transceivers(self._pc, offer_sdp)
        await self._pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        for transceiver in self._pc.getTransceivers():
            lean_receive.skip_send_time(transceiver)  # only REMB read it
        answer = await self._pc.createAnswer()
        with self._network.gathering():  # the ports and addresses of LIVETAPE_ICE_*
            await self._pc.setLocalDescription(answer)
        for transceiver in self._pc.getTransceivers():
            kind = transceiver.kind
            codecs = [c for c in transceiver._codecs if c.mimeType.lower() != f"{kind}/rtx"]
            if not codecs or transceiver.direction == "inactive":
                continue
            codec = codecs[0]
            self._codecs[kind] = codec.mimeType.split("/")[1].lower()
            receiver = transceiver.receiver
            self._receivers[kind] = receiver
            self._clocks[kind] = SenderClock(receiver, codec.clockRate)
            attach(receiver, functools.partial(self._on_frame, kind))
            if kind == "video":
                self._recovery = recover_losses(receiver, self._liveness.loss)
            else:
                attach_audio(receiver)
            lean_receive.skip_bandwidth_estimation(receiver)  # no REMB: nothing to adapt
        if not self._receivers:
            raise ValueError("the offer has no audio or video to receive")
        self._last_heard = time.monotonic()
        self._background(self._watch())
        return self._pc.localDescription.sdp

    async def add_ice_candidates(self, fragment: SdpFragment) -> int:
        """Trickle ICE: candidates the client sent after its offer (see :mod:`.trickle`)."""
        return await add_candidates(self._pc, fragment)

    def _on_connection_state(self) -> None:
        state = self._pc.connectionState
        log.info("publication %s (%s/%s): %s", self.publication_id, self.user_id,
                 self.src_type, state)
        if state == "connected" and not self._connected:
            self._connected = True
            self._last_heard = time.monotonic()
        if state in ("failed", "closed"):
            self._background(self.close(f"ice_{state}"))

    @property
    def state(self) -> str:
        """``connecting`` until ICE and DTLS are up, then ``connected``; ``closed`` at the end."""
        return "closed" if self._closed else "connected" if self._connected else "connecting"

    async def _watch(self) -> None:
        """Close the publication when it does not connect in time or falls silent."""
        limits = self._liveness
        tick = min(1.0, limits.connect_timeout / 4, limits.disconnect_grace / 4)
        while not self._closed:
            await asyncio.sleep(tick)
            heard = max([self._last_heard, *(c.last_report for c in self._clocks.values())])
            silent = time.monotonic() - heard
            if not self._connected and silent >= limits.connect_timeout:
                log.warning("publication %s: not connected after %.0f s, closing",
                            self.publication_id, silent)
                await self.close("connect_timeout")
            elif self._connected and silent >= limits.disconnect_grace:
                log.warning("publication %s: nothing received for %.0f s, closing",
                            self.publication_id, silent)
                await self.close("disconnected")

    # media -------------------------------------------------------------------------------

    def _on_frame(self, kind: str, frame: JitterFrame | None) -> None:
        """Called by aiortc's receiver, on the event loop, for each reassembled frame."""
        if frame is None:  # the track ended (BYE, transport closed)
            log.info("publication %s: %s track ended", self.publication_id, kind)
            if not self._closed:
                self._background(self.close("track_ended"))
            return
        self._take(kind, frame)
        if kind == "video" and self._recovery is not None:
            for ready in self._recovery.take_ready():  # completed with it (a hole filled)
                self._take(kind, ready)

    def _take(self, kind: str, frame: JitterFrame) -> None:
        clock = self._clocks[kind]
        clock.observe(frame.timestamp)
        codec = self._codecs[kind]
        self._last_heard = now = time.monotonic()
        self.frames_received[kind] += 1
        self.bytes_received[kind] += len(frame.data)
        recovery = self._recovery if kind == "video" else None
        sample = Sample(
            kind, codec, frame.data, frame.timestamp, clock.clock_rate,
            is_keyframe(codec, frame.data), now, clock.sender_time(frame.timestamp),
            after_gap=recovery is not None and recovery.follows_gap(),
        )
        self.preroll.add(sample)
        for listener in list(self._listeners):
            listener(sample)

    @property
    def kinds(self) -> set[str]:
        return set(self._receivers)

    def codec(self, kind: str) -> str | None:
        return self._codecs.get(kind)

    def subscribe(self, listener: Listener, *, preroll: bool = False) -> None:
        # Replaying and joining happen in one step on the event loop, where frames arrive
        # too: no frame can fall between the pre-roll and the live ones, or come twice.
        if preroll:
            for sample in self.preroll.samples():
                listener(sample)
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def request_keyframe(self) -> None:
        receiver = self._receivers.get("video")
        if receiver is None or self._closed:
            return
        streams: dict[int, object] = getattr(receiver, "_RTCRtpReceiver__remote_streams", {})
        rtx: dict[int, int] = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {})
        for ssrc in streams:
            if ssrc not in rtx:
                # aiortc has no public keyframe request; its receiver's PLI sender works
                self._plis_asked += 1
                self._background(receiver._send_rtcp_pli(ssrc))

    @property
    def loss_counts(self) -> dict[str, int]:
        """Video loss recovery so far: ``nack_requests`` (packets NACKed, repeats
        included), ``recovered`` (missing packets that came), ``gaps`` (given up) and
        ``plis`` (key frame requests: for gaps, and the recorder's)."""
        counts = dict.fromkeys(("nack_requests", "recovered", "gaps", "plis"), 0)
        if self._recovery is not None:
            counts.update(self._recovery.counts)
        counts["plis"] += self._plis_asked
        return counts

    def mapped_at(self, kind: str, sender_time: float) -> int | None:
        clock = self._clocks.get(kind)
        return clock.mapped_at(sender_time) if clock else None

    def sender_time(self, kind: str, ts: int) -> float | None:
        clock = self._clocks.get(kind)
        return clock.sender_time(ts) if clock else None

    # lifecycle ---------------------------------------------------------------------------

    def on_end(self, callback: Callable[[Publication], Awaitable[None]]) -> None:
        """Call ``callback`` once when the publication ends (registering twice is a no-op)."""
        if callback not in self._on_end:
            self._on_end.append(callback)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def close(self, reason: str = "left") -> None:
        """Leave: close the peer connection and tell subscribers. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.end_reason = reason
        log.info("publication %s closed: %s", self.publication_id, reason)
        self._packets_at_close = await self.packets_received()
        await self._pc.close()
        self.preroll.clear()
        for callback in self._on_end:
            try:
                await callback(self)
            except Exception:
                log.exception("publication %s: end callback failed", self.publication_id)

    @property
    def closed(self) -> bool:
        return self._closed

    async def packets_received(self) -> int:
        """RTP packets received on every track so far (aiortc's receiver statistics; kept
        as they were at close)."""
        if self._packets_at_close is not None:
            return self._packets_at_close
        total = 0
        for receiver in list(self._receivers.values()):
            try:
                report = await receiver.getStats()
            except Exception:  # a transport torn down meanwhile has no statistics left
                continue
            total += sum(getattr(s, "packetsReceived", 0) for s in report.values()
                         if s.type == "inbound-rtp")
        return total
