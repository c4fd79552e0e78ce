"""A WHIP (RFC 9725) publisher that sends pre-encoded media through aiortc.

Used by tests and load tools to stand in for a browser: one POST of an SDP offer, media
paced in real time from a shared clock, DELETE on stop, or :meth:`WhipPublisher.vanish`
to imitate a client that crashed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)

from livetape.client.impairment import ImpairedLink, Impairment
from livetape.client.media import EncodedMedia
from livetape.client.pacing import PacedPacketTrack, SharedClock

logger = logging.getLogger(__name__)


class WhipError(Exception):
    """The WHIP endpoint refused the request; fields come from its JSON error body."""

    def __init__(self, status: int, code: int | None, message: str, hint: str | None) -> None:
        self.status, self.code, self.message, self.hint = status, code, message, hint
        super().__init__(f"HTTP {status}: {code} {message}" + (f" ({hint})" if hint else ""))

    @classmethod
    def from_response(cls, response: httpx.Response) -> WhipError:
        """Parse ``{"code", "message", "hint"}``; fall back to the raw body text."""
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(response.status_code, None, response.text[:500], None)
        code = body.get("code")
        return cls(response.status_code, code if isinstance(code, int) else None,
                   str(body.get("message", "")), body.get("hint"))


def codec_preferences(kind: str, codec: str) -> list[RTCRtpCodecCapability]:
    """aiortc's capabilities reduced to ``codec`` (plus RTX for video).

    For H.264 only packetization-mode=1 is kept: single-NAL mode cannot carry our frames.
    """
    caps = RTCRtpSender.getCapabilities(kind).codecs
    mime = f"{kind}/{codec}".lower()
    chosen = [c for c in caps if c.mimeType.lower() == mime
              and c.parameters.get("packetization-mode", "1") == "1"]
    if not chosen:
        raise ValueError(f"aiortc cannot send {mime}")
    return chosen + [c for c in caps if c.mimeType.lower() == f"{kind}/rtx"]


class WhipPublisher:
    """Publishes ``media`` to a WHIP endpoint; see :meth:`start`, :meth:`stop`, :meth:`vanish`.

    A given ``client`` is used as-is and left open; otherwise the publisher owns one.
    ``offer_sdp`` and ``answer_sdp`` hold the SDP offer and the endpoint's answer after
    start(), ``delete_status`` the HTTP status of stop()'s DELETE. Also an async context
    manager (start ... stop).
    """

    def __init__(self, whip_url: str, token: str, media: EncodedMedia, *, loop: bool = False,
                 client: httpx.AsyncClient | None = None, connect_timeout: float = 10.0,
                 ice_servers: Sequence[RTCIceServer | dict[str, Any]] | None = None,
                 ice_transport_policy: str = "all",
                 impairment: Impairment | None = None) -> None:
        self.whip_url, self.media, self.loop = whip_url, media, loop
        # STUN/TURN servers (LivetapeClient.ice_servers()); default: host candidates only.
        # "relay": only through TURN (a client whose network lets nothing else out)
        self._ice_servers = [s if isinstance(s, RTCIceServer) else RTCIceServer(
            urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in ice_servers or []]
        self._ice_policy = RTCIceTransportPolicy(ice_transport_policy)
        self._token = token
        self._client = client
        self._own_client = client is None
        self._connect_timeout = connect_timeout
        self._clock = SharedClock()
        self._tracks: list[PacedPacketTrack] = []
        self._pc: RTCPeerConnection | None = None
        self._location: str | None = None
        self._closed = False
        # a lossy network in the sender (see livetape.client.impairment); None: a clean link
        self.link = ImpairedLink(impairment) if impairment is not None else None
        self.offer_sdp: str | None = None
        self.answer_sdp: str | None = None
        self.delete_status: int | None = None  # HTTP status of the DELETE sent by stop()

    @property
    def location(self) -> str | None:
        """Absolute URL of the WHIP session resource (None before start)."""
        return self._location

    @property
    def started_at(self) -> float | None:
        """Wall-clock time (``time.time()``) of media time 0, once the first packet is due."""
        return self._clock.started_at

    @property
    def packets_sent(self) -> dict[str, int]:
        """Packets handed to aiortc's RTP sender so far, by kind (a video packet is a frame)."""
        return {t.kind: t.packets_sent for t in self._tracks}

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", **extra}

    async def start(self) -> None:
        """Offer, POST, apply the answer and wait until ICE+DTLS are connected.

        Raises :class:`WhipError` on a non-201 answer and :class:`TimeoutError` or
        :class:`ConnectionError` when the media connection does not come up.
        """
        if self._pc is not None:
            raise RuntimeError("start() may be called once")
        if self._client is None:
            self._client = httpx.AsyncClient()
        pc = self._pc = RTCPeerConnection(RTCConfiguration(
            iceServers=self._ice_servers, iceTransportPolicy=self._ice_policy))
        connected = asyncio.get_running_loop().create_future()

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            logger.debug("publisher %s: connection %s", self._location, pc.connectionState)
            if pc.connectionState in ("connected", "failed", "closed") and not connected.done():
                connected.set_result(pc.connectionState)

        self._tracks = self.media.tracks(self._clock, loop=self.loop)
        for track in self._tracks:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            codec = "opus" if track.kind == "audio" else (self.media.video_codec or "")
            transceiver.setCodecPreferences(codec_preferences(track.kind, codec))
        try:
            await pc.setLocalDescription(await pc.createOffer())  # gathers all candidates
            self.offer_sdp = pc.localDescription.sdp
            response = await self._client.post(
                self.whip_url, content=self.offer_sdp.encode(),
                headers=self._headers(**{"Content-Type": "application/sdp"}))
            if response.status_code != 201:
                raise WhipError.from_response(response)
            if "location" not in response.headers:
                raise WhipError(201, None, "answer has no Location header", None)
            self._location = str(response.url.join(response.headers["location"]))
            self.answer_sdp = response.text
            await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
            if self.link is not None:  # before media flows: it starts once DTLS is up
                for transceiver in pc.getTransceivers():
                    self.link.add_rtx_ssrc(transceiver.sender._rtx_ssrc)
                    self.link.attach(transceiver.sender.transport)
            async with asyncio.timeout(self._connect_timeout):
                state = await connected
            if state != "connected":
                raise ConnectionError(f"WebRTC connection {state} for {self._location}")
        except BaseException:
            await self.stop()
            raise
        logger.info("publishing %s to %s", [t.kind for t in self._tracks], self._location)

    async def wait_done(self) -> None:
        """Return once every track sent its last packet (never, with ``loop``, before stop)."""
        await asyncio.gather(*(t.done.wait() for t in self._tracks))

    async def stop(self) -> None:
        """DELETE the session resource and close the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._location is not None and self._client is not None:
                try:
                    response = await self._client.delete(self._location, headers=self._headers())
                    self.delete_status = response.status_code
                    if response.is_error:
                        logger.warning("DELETE %s: %s", self._location, response.status_code)
                except httpx.HTTPError as exc:
                    logger.warning("DELETE %s failed: %s", self._location, exc)
            await self._close_pc(silently=False)
        finally:
            await self._close_client()

    async def vanish(self) -> None:
        """Stop at once like a crashed client: no DELETE, no RTCP BYE, no DTLS close_notify."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._close_pc(silently=True)
        finally:
            await self._close_client()

    async def _close_pc(self, *, silently: bool) -> None:
        for track in self._tracks:
            track.stop()  # also wakes wait_done()
        if self.link is not None:
            self.link.close()
        if self._pc is None:
            return
        if silently:
            # Closing the ICE sockets first makes the goodbyes pc.close() would send
            # (RTCP BYE, DTLS close_notify) fail quietly with ConnectionError.
            ice = {t.sender.transport.transport for t in self._pc.getTransceivers()
                   if t.sender.transport is not None}
            for transport in ice:
                await transport.stop()
        await self._pc.close()

    async def _close_client(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> WhipPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
