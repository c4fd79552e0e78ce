"""A lossy, jittery network between a test publisher and the server, made in the sender.

The kernels livetape is tested on have no netem, so :class:`ImpairedLink` plays the network
inside the publisher: it sits where aiortc hands each protected-to-be RTP packet to the DTLS
transport (``RTCDtlsTransport._send_rtp``, called by ``RTCRtpSender._run_rtp`` for media,
``RTCRtpSender._retransmit`` for RTX and ``_send_rtcp`` for RTCP) and

- drops a seeded fraction ``loss`` of every outgoing RTP packet, retransmissions (RTX)
  included: they cross the same network;
- every ``burst_every_ms`` on average (exponential gaps, seeded) stalls the link for
  ``jitter_ms``: every packet sent meanwhile, and every packet queued behind it, waits in
  order for the stall to end, as on a congested link (no reordering).

RTCP (sender reports, BYE) is not impaired: the loss under test is media's, and sender
reports carry the A/V sync the tests measure; a lost report only delays it by a second.

The hook replaces ``_send_rtp`` on one transport *instance* (nothing process-wide);
:data:`PATCHED_SOURCES` and ``tests/recorder/test_lossy_networks.py`` catch an aiortc version
that sends through another path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import is_rtcp

SendRtp = Callable[[bytes], Awaitable[None]]

# sha256 of inspect.getsource() of the functions the hook relies on (aiortc 1.16.0)
PATCHED_SOURCES = {
    "aiortc.rtcdtlstransport.RTCDtlsTransport._send_rtp":
        "763b02bceb0b0ab9c08d87eb6c0852a404322aafd377d28ad4a719f7c790ed9d",
    "aiortc.rtcrtpsender.RTCRtpSender._run_rtp":
        "ff597a1d554cb373e73b21775c5bf564e7dba1eab6058eeabd902e09794872a3",
    "aiortc.rtcrtpsender.RTCRtpSender._retransmit":
        "ae0b2491944b52dc8ffe7035bda93b913d6e833247e4c93c4d7d68bd12d191b4",
}
_WRAPPED: dict[str, Any] = {
    "aiortc.rtcdtlstransport.RTCDtlsTransport._send_rtp": RTCDtlsTransport._send_rtp,
    "aiortc.rtcrtpsender.RTCRtpSender._run_rtp": RTCRtpSender._run_rtp,
    "aiortc.rtcrtpsender.RTCRtpSender._retransmit": RTCRtpSender._retransmit,
}


def changed_sources() -> list[str]:
    """The functions whose source is not the one the hook was written against."""
    return [name for name, function in _WRAPPED.items()
            if hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
            != PATCHED_SOURCES[name]]


@dataclass(frozen=True)
class Impairment:
    """What the network does to the publisher's RTP: ``loss`` (0..1) of packets dropped,
    stalls of ``jitter_ms`` about every ``burst_every_ms``; ``seed`` makes the drops and
    stalls repeatable for a given packet order. ``rtx_loss``: the share of retransmissions
    dropped when it is not ``loss`` (1.0: a lost packet is never recovered)."""

    loss: float = 0.0
    jitter_ms: float = 0.0
    burst_every_ms: float = 250.0
    seed: int = 1
    rtx_loss: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f"loss must be in [0, 1), not {self.loss}")
        if self.jitter_ms < 0 or self.burst_every_ms <= 0:
            raise ValueError("jitter_ms must be >= 0 and burst_every_ms > 0")
        if self.rtx_loss is not None and not 0.0 <= self.rtx_loss <= 1.0:
            raise ValueError(f"rtx_loss must be in [0, 1], not {self.rtx_loss}")


class ImpairedLink:
    """One publisher's impaired network; :meth:`attach` it to each DTLS transport before
    media flows. Counters: ``rtp_packets`` handed to the link (``rtx_packets`` of them
    retransmissions), ``dropped`` (``rtx_dropped`` of them retransmissions), ``held``
    (delayed by a stall)."""

    def __init__(self, impairment: Impairment, *, rtx_ssrcs: set[int] | None = None) -> None:
        self.impairment = impairment
        self._rtx_ssrcs = rtx_ssrcs if rtx_ssrcs is not None else set()
        self._rng = random.Random(impairment.seed)
        self._queue: deque[tuple[SendRtp, bytes]] = deque()
        self._drain: asyncio.Task[None] | None = None
        self._stall_until = 0.0
        self._next_stall: float | None = None
        self.rtp_packets = self.rtx_packets = self.dropped = self.rtx_dropped = self.held = 0

    def add_rtx_ssrc(self, ssrc: int) -> None:
        """Count packets of this SSRC as retransmissions (an RTCRtpSender's ``_rtx_ssrc``)."""
        self._rtx_ssrcs.add(ssrc)

    def attach(self, transport: RTCDtlsTransport) -> None:
        """Route ``transport``'s outgoing RTP through this link (idempotent per transport)."""
        if getattr(transport, "_livetape_impaired", False):
            return
        send: SendRtp = transport._send_rtp

        async def impaired_send_rtp(data: bytes) -> None:
            route = "send" if is_rtcp(data) else self._route(data)
            if route == "send":
                await send(data)
            elif route == "queue":
                self._queue.append((send, data))
                if self._drain is None or self._drain.done():
                    self._drain = asyncio.ensure_future(self._drain_queue())

        transport._send_rtp = impaired_send_rtp  # type: ignore[method-assign]
        transport._livetape_impaired = True  # type: ignore[attr-defined]

    def _route(self, data: bytes) -> str:
        """Count, and say what becomes of an RTP packet: "send" now, "drop", or "queue"
        behind a stall."""
        self.rtp_packets += 1
        loss = self.impairment.loss
        rtx = len(data) >= 12 and int.from_bytes(data[8:12], "big") in self._rtx_ssrcs
        if rtx:
            self.rtx_packets += 1
            loss = loss if self.impairment.rtx_loss is None else self.impairment.rtx_loss
        if self._rng.random() < loss:
            self.dropped += 1
            self.rtx_dropped += rtx
            return "drop"
        now = asyncio.get_running_loop().time()
        spec = self.impairment
        if spec.jitter_ms > 0:
            if self._next_stall is None:
                self._next_stall = now + self._rng.expovariate(1000 / spec.burst_every_ms)
            if now >= self._next_stall:
                self._stall_until = now + spec.jitter_ms / 1000
                self._next_stall = self._stall_until + self._rng.expovariate(
                    1000 / spec.burst_every_ms)
        if now < self._stall_until or self._queue:
            self.held += 1
            return "queue"
        return "send"

    async def _drain_queue(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            wait = self._stall_until - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # a new stall may have begun meanwhile
            send, data = self._queue.popleft()
            with contextlib.suppress(ConnectionError):
                await send(data)

    def close(self) -> None:
        """Forget what is queued (the connection is going away)."""
        self._queue.clear()
        if self._drain is not None:
            self._drain.cancel()
