"""Maps a received track's RTP timestamps to the sender's wall clock (RTCP sender reports).

Each aiortc track rebases its timestamps to 0 independently, so audio and video cannot be
aligned from timestamps alone, and arrival times are off by jitter-buffer delays (tens of
ms). A sender report pairs one RTP timestamp with the sender's NTP time; with it, any frame
timestamp maps to sender time, the same clock for every track of one sender.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtcpSrPacket

log = logging.getLogger(__name__)

_WRAP = 1 << 32


def ntp_to_seconds(ntp: int) -> float:
    return (ntp >> 32) + (ntp & 0xFFFFFFFF) / _WRAP


class SenderClock:
    """Tracks the latest sender report of one receiver and converts timestamps with it."""

    def __init__(self, receiver: RTCRtpReceiver, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self._receiver = receiver
        self._sr_sender_time: float | None = None
        self._sr_rtp: int | None = None  # 32-bit RTP timestamp of the report
        self._sr_mapped: int | None = None  # the same, in the track's rebased timeline
        self._last_mapped: int | None = None
        self.reports = 0
        self.last_report = 0.0  # time.monotonic() of the latest report (0: none yet)
        self._hook()

    def _hook(self) -> None:
        # RTCP reaches the receiver via an attribute lookup on the instance, so wrapping the
        # bound method on this instance sees every report without touching aiortc's class.
        original: Callable[[Any], Awaitable[None]] = self._receiver._handle_rtcp_packet
        rtx_ssrcs: dict[int, int] = getattr(self._receiver, "_RTCRtpReceiver__rtx_ssrc", {})

        async def handle(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket) and packet.ssrc not in rtx_ssrcs:
                self._on_report(
                    ntp_to_seconds(packet.sender_info.ntp_timestamp),
                    packet.sender_info.rtp_timestamp,
                )
            await original(packet)

        self._receiver._handle_rtcp_packet = handle  # type: ignore[method-assign]

    def _origin(self) -> int | None:
        mapper = getattr(self._receiver, "_RTCRtpReceiver__timestamp_mapper", None)
        return getattr(mapper, "_origin", None)

    def _on_report(self, sender_time: float, rtp: int) -> None:
        self._sr_sender_time = sender_time
        self._sr_rtp = rtp
        self._sr_mapped = None  # resolved lazily: frames may not have started yet
        self.reports += 1
        self.last_report = time.monotonic()
        self._resolve()

    def _resolve(self) -> None:
        if self._sr_rtp is None or self._sr_mapped is not None:
            return
        origin = self._origin()
        if origin is None or self._last_mapped is None:
            return
        low = (self._sr_rtp - origin) % _WRAP
        # unwrap to the extended timestamp nearest the newest frame
        delta = (low - self._last_mapped) % _WRAP
        if delta >= _WRAP // 2:
            delta -= _WRAP
        self._sr_mapped = self._last_mapped + delta

    def observe(self, mapped_ts: int) -> None:
        """Note a frame's (rebased, extended) timestamp; needed to place reports."""
        self._last_mapped = mapped_ts
        if self._sr_mapped is None:
            self._resolve()

    @property
    def synced(self) -> bool:
        return self._sr_mapped is not None

    def sender_time(self, mapped_ts: int) -> float | None:
        """The sender's wall-clock time (seconds) of a frame, or None before any report."""
        if self._sr_mapped is None or self._sr_sender_time is None:
            return None
        return self._sr_sender_time + (mapped_ts - self._sr_mapped) / self.clock_rate

    def mapped_at(self, sender_time: float) -> int | None:
        """The track timestamp that corresponds to a sender time (inverse of sender_time)."""
        if self._sr_mapped is None or self._sr_sender_time is None:
            return None
        return self._sr_mapped + round((sender_time - self._sr_sender_time) * self.clock_rate)
