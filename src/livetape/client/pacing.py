"""Pacing pre-encoded packets in real time for aiortc senders, on one clock per publisher."""

from __future__ import annotations

import asyncio
import contextlib
import time
from fractions import Fraction
from typing import Any, TypeAlias

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

Packet: TypeAlias = "av.Packet[Any]"


def packet_time(packet: Packet) -> Fraction:
    """A packet's pts in seconds."""
    assert packet.pts is not None, "packets without pts are not supported"
    return packet.pts * packet.time_base


class SharedClock:
    """The start instant shared by one publisher's tracks.

    t0 is set once every track (``parties``) has asked for its first packet. Starting at
    the first track's request instead makes a track whose sender starts later send its
    first packets in a catch-up burst, and aiortc's first sender report for that track
    then pairs an early RTP timestamp with a late wall-clock time: a receiver aligning
    tracks by sender reports would see that track late by the burst (measured: 47 ms).
    """

    START_WAIT = 2.0  # seconds to wait for the other tracks before starting anyway

    def __init__(self) -> None:
        self.parties = 1
        self._arrived = 0
        self._ready: asyncio.Event | None = None
        self._t0: float | None = None
        self.started_at: float | None = None  # wall-clock time.time() of t0

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._ready is None:
            self._ready = asyncio.Event()
        self._arrived += 1
        if self._arrived < self.parties:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), self.START_WAIT)
        if self._t0 is None:
            self._t0, self.started_at = loop.time(), time.time()
            self._ready.set()

    async def wait_until(self, media_time: float) -> None:
        """Sleep until ``media_time`` seconds after t0 (returns at once when late)."""
        if self._t0 is None:
            await self._start()
        assert self._t0 is not None
        delay = self._t0 + media_time - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)


class PacedPacketTrack(MediaStreamTrack):
    """Yields copies of pre-encoded packets when their pts is due on a shared clock.

    With ``loop`` the packets repeat forever, pts advancing by ``period`` seconds per pass;
    otherwise ``recv()`` raises MediaStreamError after the last packet (aiortc's sender
    then ends the track). ``done`` is set once the last packet was sent, or on stop().
    """

    def __init__(self, kind: str, packets: list[Packet], time_base: Fraction,
                 clock: SharedClock, *, period: float, loop: bool = False) -> None:
        super().__init__()
        self.kind, self._packets, self._time_base, self._clock = kind, packets, time_base, clock
        self._period_ticks = round(Fraction(period) / time_base)
        self._repeat = loop  # not `_loop`: pyee's event emitter uses that name
        self._index = self.packets_sent = 0
        self.done = asyncio.Event()

    async def recv(self) -> Packet:
        """Wait until the next packet is due and return a fresh copy of it."""
        if self.readyState != "live":
            raise MediaStreamError
        if not self._repeat and self._index >= len(self._packets):
            self.stop()  # the previous recv() returned the last packet, and it has been sent
            raise MediaStreamError
        rounds, i = divmod(self._index, len(self._packets))
        src = self._packets[i]
        pts = round(packet_time(src) / self._time_base) + rounds * self._period_ticks
        await self._clock.wait_until(float(pts * self._time_base))
        if self.readyState != "live":  # stopped (vanish) while waiting: send nothing more
            raise MediaStreamError
        out = av.Packet(bytes(src))  # a copy: one EncodedMedia may feed several publishers
        out.pts = out.dts = pts
        out.time_base, out.is_keyframe = self._time_base, src.is_keyframe
        out.duration = src.duration
        self._index += 1
        self.packets_sent += 1
        return out

    def stop(self) -> None:
        """End the track (idempotent) and set ``done``."""
        self.done.set()
        super().stop()
