"""What a recorder consumes: encoded samples from one published stream.

The rooms layer implements :class:`MediaSource` for a WHIP publication; the recorder only
knows this protocol, so it can be driven by any producer of encoded frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Sample:
    """One encoded frame (video access unit or audio packet) as received."""

    kind: str  # "audio" | "video"
    codec: str  # "h264" | "vp8" | "opus"
    data: bytes
    ts: int  # RTP timestamp, rebased to 0 at the track's first frame, never wrapping
    clock_rate: int
    keyframe: bool
    arrival: float  # time.monotonic() when the frame was complete
    sender_time: float | None  # sender wall clock from RTCP sender reports, None before one
    # video: frames were given up just before this one (unrecovered loss); what follows up
    # to the next key frame lacks its references
    after_gap: bool = False


Listener = Callable[[Sample], None]


class MediaSource(Protocol):
    """A published stream the recorder can subscribe to."""

    @property
    def kinds(self) -> set[str]:
        """Which kinds ("audio", "video") the stream carries."""
        ...

    def codec(self, kind: str) -> str | None: ...

    def subscribe(self, listener: Listener, *, preroll: bool = False) -> None:
        """Call ``listener`` with every sample from now on; with ``preroll``, first with the
        stream's buffered samples from its latest key frame on (none twice, none missed)."""
        ...

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling ``listener``; no error when it is not subscribed (any more)."""
        ...

    def request_keyframe(self) -> None:
        """Ask the publisher for a key frame (RTCP PLI)."""
        ...

    def mapped_at(self, kind: str, sender_time: float) -> int | None:
        """The track timestamp at a sender time, or None before a sender report."""
        ...

    def sender_time(self, kind: str, ts: int) -> float | None:
        """The sender time of a track timestamp (the inverse), or None before a report;
        places samples that arrived before the first report."""
        ...
