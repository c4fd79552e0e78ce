"""Publishing WebRTC offers into one recording Janus VideoRoom room.

Every publisher gets its own Janus session (see :mod:`janus_api`): join as publisher, then
``configure`` with the complete SDP offer; the room itself is created on first use with
recording on, so Janus writes one ``.mjr`` file per medium of every publisher.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from janus_api import VIDEOROOM_PLUGIN, JanusError, JanusSession

logger = logging.getLogger(__name__)

ROOM_EXISTS = 427  # VideoRoom error code for "create" on a room id already in use


@dataclass
class Publisher:
    """A VideoRoom publisher; awaiting it (``await publisher()``) leaves the room.

    ``publish()`` returns it as the ``leave`` callable of its tuple; the extra attributes are
    there for callers who want Janus's own view (``webrtc_up`` is set when Janus reports the
    PeerConnection up, ``publisher_id`` is the VideoRoom participant id).
    """

    session: JanusSession
    handle_id: int
    publisher_id: int
    _left: bool = field(default=False, init=False)

    @property
    def webrtc_up(self) -> asyncio.Event:
        """Set when Janus reports ``webrtcup`` for this publisher's PeerConnection."""
        return self.session.webrtc_up

    async def __call__(self) -> None:
        """Leave the room (Janus closes the recordings) and destroy the session; idempotent."""
        if self._left:
            return
        self._left = True
        try:
            await self.session.message(self.handle_id, {"request": "leave"}, event_timeout=5.0)
        except (JanusError, TimeoutError, httpx.HTTPError) as exc:
            logger.warning("janus leave failed: %s", exc)
        await self.session.destroy()


class VideoRoom:
    """One VideoRoom room with recording into ``record_dir``, created on the first publish."""

    def __init__(self, room: int, max_publishers: int, record_dir: Path) -> None:
        self.room = room
        self.max_publishers = max_publishers
        self.record_dir = record_dir
        self._ready = False
        # Publishers joining at once must not all race to create the room.
        self._lock = asyncio.Lock()

    async def _ensure_created(self, session: JanusSession, handle_id: int) -> None:
        async with self._lock:
            if self._ready:
                return
            body = {
                "request": "create",
                "room": self.room,
                "description": "livetape benchmark reference",
                "permanent": False,
                "is_private": True,
                "publishers": self.max_publishers,
                "bitrate": 0,  # no REMB cap: the senders push pre-encoded media anyway
                "fir_freq": 0,  # no periodic keyframe requests: the source has keyint 30
                "audiocodec": "opus",
                "videocodec": "h264",
                "record": True,
                "rec_dir": str(self.record_dir),
            }
            try:
                await session.message(handle_id, body)
            except JanusError as exc:
                if f" {ROOM_EXISTS} " not in f" {exc} ":
                    raise
            self._ready = True

    async def publish(
        self,
        client: httpx.AsyncClient,
        offer_sdp: str,
        display: str | None = None,
        event_timeout: float = 20.0,
    ) -> tuple[str, Publisher]:
        """Publish a complete SDP offer on a new session; returns (answer SDP, Publisher).

        The offer is sent with ``trickle: false``, so it must carry all its ICE candidates.
        """
        session = await JanusSession.create(client)
        try:
            handle_id = await session.attach(VIDEOROOM_PLUGIN)
            await self._ensure_created(session, handle_id)
            joined, _ = await session.message(
                handle_id,
                {
                    "request": "join",
                    "ptype": "publisher",
                    "room": self.room,
                    "display": display or f"pub-{session.session_id}",
                },
                event_timeout=event_timeout,
            )
            _, jsep = await session.message(
                handle_id,
                {"request": "configure", "audio": True, "video": True},
                jsep={"type": "offer", "sdp": offer_sdp, "trickle": False},
                event_timeout=event_timeout,
            )
            if not jsep or jsep.get("type") != "answer":
                raise JanusError(f"configure returned no SDP answer: {jsep!r}")
        except BaseException:
            await session.destroy()
            raise
        return str(jsep["sdp"]), Publisher(session, handle_id, int(joined.get("id", 0)))
