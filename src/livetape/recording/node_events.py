"""What the media node of this process reports (:class:`livetape.medianode.interface.
RecordingEvents`): segments go to the ledger, recordings that ended by themselves are marked
ended. In a cluster the recording may have been started through another node's control plane
(its row, not this process's memory, says it runs), or have ended without this node: a node
cut off from the cluster, whose recordings a survivor finalized, still lands its later files
as files of the recording (never dropped)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from livetape.db.models import Recording

if TYPE_CHECKING:
    from livetape.recording.recording_service import RecordingService

log = logging.getLogger(__name__)


class NodeEvents:
    def __init__(self, service: RecordingService) -> None:
        self._service = service

    async def _row(self, recording_id: str) -> Recording | None:
        async with self._service.sessions() as session:
            return await session.get(Recording, recording_id)

    async def segment_opened(self, recording_id: str, seq: int, part: str) -> None:
        active = self._service.by_id(recording_id)
        recording = active.recording if active else await self._row(recording_id)
        if recording is None:
            log.warning("recording %s: segment %d opened, no such recording", recording_id, seq)
            return
        if recording.state != "recording":
            log.warning("recording %s: segment %d opened after its end (this node was cut "
                        "off?): it will land all the same", recording_id, seq)
        await self._service.segments.opened(recording, seq, Path(part))

    async def segment_closed(self, recording_id: str, seq: int, part: str) -> None:
        active = self._service.by_id(recording_id)
        if active is None:
            recording = await self._row(recording_id)
            if recording is None:
                log.warning("recording %s: segment %d closed, no such recording", recording_id,
                            seq)
            elif recording.state == "recording":
                # started by another node's control plane: its files are on this node's disk,
                # so they land here, before the event is answered (the node answers a stop
                # only once every event of the recording was, so the stop's answer lists them)
                await self._service.segments.finalize(recording, seq, Path(part))
            else:  # ended without this node (a survivor finalized what it could)
                await self._service.segments.land_late(recording, seq, Path(part))
            return
        # finalizing (remux, probe, store) runs beside the recording; its end waits for it
        finalize = self._service.segments.finalize(active.recording, seq, Path(part))
        active.finalizers[seq] = asyncio.create_task(finalize)

    async def recording_ended(self, recording_id: str, reason: str) -> None:
        active = self._service.by_id(recording_id)
        if active is not None:
            await self._service.end(active, reason)
            return
        row = await self._row(recording_id)
        if row is not None and row.state == "recording":
            await self._service.mark_ended(recording_id, reason)  # another node started it
