"""How a recording's row ends: its stored end reason and resume window, and the wait for a
recording that ends elsewhere (a survivor reaping a dead node's recording).

A recorder that ended because its publisher's connection dropped reports
``connection_lost``: the row says ``publisher_left`` (as for a deleted WHIP session) but,
like ``node_lost``, keeps a resume window of ``LIVETAPE_RESUME_SECONDS`` (:mod:`.resume`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.config import Settings
from livetape.db.models import Recording, utcnow

# the ends after which a publisher that publishes the stream again continues the recording
RESUMABLE = ("connection_lost", "node_lost")
POLL_SECONDS = 0.25


class RecordingRows:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._settings, self._sessions = settings, sessions

    async def mark_ended(self, recording_id: str, reason: str) -> str:
        """End a running recording's row; returns the end reason as stored."""
        stored = "publisher_left" if reason == "connection_lost" else reason
        now = utcnow()
        resumable = reason in RESUMABLE and self._settings.resume_seconds > 0
        until = now + timedelta(seconds=self._settings.resume_seconds) if resumable else None
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Recording).where(Recording.recording_id == recording_id,
                                        Recording.state == "recording")
                .values(state="ended", end_reason=stored, ended_at=now, resume_until=until)
            )
        return stored

    async def ended_elsewhere(self, recording_id: str) -> str | None:
        """The end reason once the row ended (its node gone, a survivor reaps it), waiting at
        most twice LIVETAPE_NODE_DEAD_SECONDS plus LIVETAPE_NODE_TIMEOUT_SECONDS; None if it
        did not end by then."""
        settings = self._settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * settings.node_dead_seconds + settings.node_timeout_seconds
        while loop.time() < deadline:
            async with self._sessions() as session:
                row = await session.get(Recording, recording_id)
            if row is None or (row.state == "ended" and row.end_reason):
                return row.end_reason if row else None
            await asyncio.sleep(POLL_SECONDS)
        return None
