"""Video packet loss, recovered in aiortc's receiver: NACKs repeated, a bounded wait, a PLI.

What aiortc 1.16's video receiver does by itself: its NACK generator asks for a missing
packet once, when a later packet shows the gap, and again only when another gap happens to
open while the first is still missing; its jitter buffer (512 packets) releases frames only
in order and waits for a missing packet until 512 packets later (several seconds), then
drops just enough packets, sends a PLI, and releases the frames after the hole, which lack
their references (a file that decodes with errors). So one lost retransmission costs a
stall of seconds and damaged pictures. Its audio buffer (16 packets, 4 held back) skips a
lost packet only by dropping, one per packet that arrives, the whole packets before the hole
too: each lost Opus packet cost five (100 ms; 25 % of the audio at 5 % loss).

:func:`attach` swaps in two stand-ins, same interfaces, on one receiver:

- :class:`NackScheduler` (aiortc's ``NackGenerator``): a missing packet is asked for at
  once and again every ``nack_interval`` until it comes or ``wait`` has passed;
- :class:`GapJitterBuffer` (aiortc's ``JitterBuffer``): a packet still missing after
  ``wait`` is given up: the frame it belonged to is dropped (aiortc's own ``smart_remove``),
  the buffer goes on with the next frame, a PLI is sent (aiortc sends it when ``add`` says
  so) and :attr:`LossRecovery.gaps` counts it, so the frame that follows is known to follow
  a gap (the recorder then waits for a key frame: what follows lacks its references).
  aiortc's receiver takes one frame from it per packet received; the frames completed at
  once (those behind a hole just filled) wait in ``ready`` for :meth:`LossRecovery.take_ready`
  rather than trail behind for ever.

- :class:`AudioJitterBuffer` (the audio ``JitterBuffer``): goes past a lost packet as soon
  as aiortc's reorder tolerance allows, losing no other packet.

All rest on private names (the receiver's ``__nack_generator`` and ``__jitter_buffer``);
pyproject pins aiortc and :data:`PATCHED_SOURCES` (checked by
``tests/recorder/test_lossy_networks.py``) catches a version whose code they no longer fit.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import NackGenerator, RTCRtpReceiver, TimestampMapper
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add, uint16_gt

VIDEO_CAPACITY = 512  # packets: aiortc's own video jitter buffer size
AUDIO_CAPACITY, AUDIO_PREFETCH = 16, 4  # aiortc's own audio jitter buffer
MAX_GAPS = 512  # missing packets tracked at most (a longer outage is beyond NACK anyway)

_NACK_ATTRIBUTE = "_RTCRtpReceiver__nack_generator"
_BUFFER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"
_MAPPER_ATTRIBUTE = "_RTCRtpReceiver__timestamp_mapper"

# sha256 of inspect.getsource() of what the stand-ins replace or are called by (aiortc 1.16.0)
PATCHED_SOURCES: dict[str, Any] = {
    "aiortc.rtcrtpreceiver.RTCRtpReceiver.__init__":
        "3e3b7b5cefbaac6f32d31c024a5ecf70093b55e60db6a3b4f4f900400688ccb9",
    "aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet":
        "4e54983d021a6336d80c29490f82f9a6dd531c0d3179b2daed818120c5ece238",
    "aiortc.rtcrtpreceiver.NackGenerator":
        "4e89418b046d6ffc603a7b8785aa1dc276a5d1fed9f8cebd27082e8660f5f08a",
    "aiortc.jitterbuffer.JitterBuffer":
        "17030fbb0982258d8d61611500b707370579994f222fae610c353c5de5b1ed59",
}
_SOURCES: dict[str, Any] = {
    "aiortc.rtcrtpreceiver.RTCRtpReceiver.__init__": RTCRtpReceiver.__init__,
    "aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet":
        RTCRtpReceiver._handle_rtp_packet,
    "aiortc.rtcrtpreceiver.NackGenerator": NackGenerator,
    "aiortc.jitterbuffer.JitterBuffer": JitterBuffer,
}


def changed_sources() -> list[str]:
    """What the stand-ins fit, whose source is not the pinned version's any more."""
    return [name for name, code in _SOURCES.items()
            if hashlib.sha256(inspect.getsource(code).encode()).hexdigest()
            != PATCHED_SOURCES[name]]


@dataclass(frozen=True)
class LossPolicy:
    """``nack_interval``: seconds between two NACKs of one missing packet; ``wait``: seconds
    a missing video packet is waited for before its frame is given up."""

    nack_interval: float = 0.1
    wait: float = 1.0


class NackScheduler:
    """aiortc's ``NackGenerator`` interface: after ``add`` returns True the receiver NACKs
    ``missing`` (here: the packets due to be asked for now, new or again)."""

    def __init__(self, policy: LossPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self._policy, self._clock = policy, clock
        self.max_seq: int | None = None
        self.missing: set[int] = set()
        self._gaps: dict[int, list[float]] = {}  # seq -> [first missed, last asked]
        self.requested = 0  # sequence numbers NACKed, repeats included
        self.recovered = 0  # missing packets that came after all (retransmitted or late)

    def add(self, packet: RtpPacket) -> bool:
        seq, now = packet.sequence_number, self._clock()
        self.missing = set()
        if self.max_seq is None:
            self.max_seq = seq
            return False
        if uint16_gt(seq, self.max_seq):
            missed = uint16_add(self.max_seq, 1)
            while uint16_gt(seq, missed):
                self._gaps[missed] = [now, now]
                self.missing.add(missed)
                missed = uint16_add(missed, 1)
            self.max_seq = seq
            while len(self._gaps) > MAX_GAPS:
                del self._gaps[next(iter(self._gaps))]  # the oldest
        elif self._gaps.pop(seq, None) is not None:
            self.recovered += 1
        for missed, (first, asked) in self._gaps.items():
            if now - asked >= self._policy.nack_interval and now - first < self._policy.wait:
                self._gaps[missed][1] = now
                self.missing.add(missed)
        self.requested += len(self.missing)
        return bool(self.missing)

    def expired(self) -> list[int]:
        """The missing packets waited for ``wait`` already: forgotten here, given up."""
        now = self._clock()
        gone = [s for s, (first, _) in self._gaps.items() if now - first >= self._policy.wait]
        for seq in gone:
            del self._gaps[seq]
        return gone


class GapJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, giving up a packet its :class:`NackScheduler` gave up."""

    def __init__(self, scheduler: NackScheduler) -> None:
        super().__init__(capacity=VIDEO_CAPACITY, is_video=True)
        self._scheduler = scheduler
        self.gaps = 0  # holes given up (here or by aiortc's overflow): a frame lost
        self.plis = 0  # PLIs the receiver sent because of them
        # complete frames beyond the one add() returns (aiortc hands over one frame per
        # packet received: after a hole is filled, those behind it would trail for ever)
        self.ready: deque[JitterFrame] = deque()

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        while (frame := super()._remove_frame(sequence_number)) is not None:
            self.ready.append(frame)
        return self.ready.popleft() if self.ready else None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        skipped = self._skip_expired()
        pli, frame = super().add(packet)
        if pli or skipped:
            self.gaps += 1
            self.plis += 1
        return pli or skipped, frame

    def _skip_expired(self) -> bool:
        expired = self._scheduler.expired()
        if not expired or self._origin is None:
            return False
        ahead = [d for d in (uint16_add(s, -self._origin) for s in expired) if d < self.capacity]
        if not ahead:
            return False  # already behind the buffer (aiortc dropped them on overflow)
        # drop up to the hole and the rest of its frame: the buffer resumes at the next frame
        if self.smart_remove(max(ahead) + 1):
            self._origin = None  # all gone: the next packet starts the buffer afresh
        return True


class AudioJitterBuffer(JitterBuffer):
    """aiortc's audio jitter buffer, going past a lost packet without losing others.

    aiortc waits for a lost packet until the buffer is full, then drops packets from its
    head one per arrival, whole ones included, and the buffer stays full (300 ms behind).
    Here a buffer with a hole hands its head over at once (it is older than the hole), and a
    hole at the head is given up once ``prefetch`` later packets are in: the same reorder
    tolerance as aiortc's, and only the lost packet is missing (Opus carries no references).
    """

    def __init__(self) -> None:
        super().__init__(capacity=AUDIO_CAPACITY, prefetch=AUDIO_PREFETCH)
        self._newest: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        seq = packet.sequence_number
        if self._newest is None or uint16_gt(seq, self._newest):
            self._newest = seq
        pli, frame = super().add(packet)
        if self._origin is not None and uint16_add(self._newest, -self._origin) >= self.capacity:
            self._newest = seq  # the buffer started afresh
        if frame is None and self._origin is not None:
            frame = self._past_hole()
        return pli, frame

    def _past_hole(self) -> JitterFrame | None:
        assert self._origin is not None and self._newest is not None
        span = uint16_add(self._newest, -self._origin) + 1
        slots = [self._packets[(self._origin + i) % self.capacity] for i in range(span)]
        if None not in slots:
            return None  # no hole: the usual prefetch wait
        if slots[0] is None:
            present = len(slots) - slots.count(None)
            if present < self._prefetch:
                return None  # it may still come, out of order
            self.remove(next(i for i, p in enumerate(slots) if p is not None))
        head = self._packets[self._origin % self.capacity]
        assert head is not None
        self.remove(1)
        return JitterFrame(data=head._data, timestamp=head.timestamp)  # type: ignore[attr-defined]


class LossRecovery:
    """The stand-ins of one video receiver, and what they did."""

    def __init__(self, policy: LossPolicy, timestamps: TimestampMapper | None = None) -> None:
        self.nacks = NackScheduler(policy)
        self.buffer = GapJitterBuffer(self.nacks)
        self._timestamps = timestamps or TimestampMapper()
        self._gaps_seen = 0

    def take_ready(self) -> list[JitterFrame]:
        """The complete frames waiting behind the one the receiver just handed over, their
        timestamps rebased as the receiver does (call right after each frame it hands over)."""
        frames = list(self.buffer.ready)
        self.buffer.ready.clear()
        for frame in frames:
            frame.timestamp = self._timestamps.map(frame.timestamp)
        return frames

    def follows_gap(self) -> bool:
        """Whether a frame given up came since the last call (ask once per frame delivered)."""
        seen, self._gaps_seen = self._gaps_seen, self.buffer.gaps
        return self.buffer.gaps != seen

    @property
    def counts(self) -> dict[str, int]:
        return {"nack_requests": self.nacks.requested, "recovered": self.nacks.recovered,
                "gaps": self.buffer.gaps, "plis": self.buffer.plis}


def attach_audio(receiver: RTCRtpReceiver) -> None:
    """Give an audio receiver the audio jitter buffer stand-in; call before media starts."""
    if getattr(receiver, _BUFFER_ATTRIBUTE, None) is None:
        raise RuntimeError("aiortc's audio receiver has no jitter buffer: unsupported version")
    setattr(receiver, _BUFFER_ATTRIBUTE, AudioJitterBuffer())


def attach(receiver: RTCRtpReceiver, policy: LossPolicy) -> LossRecovery:
    """Give a video receiver the stand-ins; call before media starts."""
    for name in (_NACK_ATTRIBUTE, _BUFFER_ATTRIBUTE):
        if getattr(receiver, name, None) is None:
            raise RuntimeError(f"aiortc's video receiver has no {name}: unsupported version")
    timestamps = getattr(receiver, _MAPPER_ATTRIBUTE, None)
    if not isinstance(timestamps, TimestampMapper):
        raise RuntimeError("aiortc's video receiver has no timestamp mapper: unsupported version")
    recovery = LossRecovery(policy, timestamps)
    setattr(receiver, _NACK_ATTRIBUTE, recovery.nacks)
    setattr(receiver, _BUFFER_ATTRIBUTE, recovery.buffer)
    return recovery
