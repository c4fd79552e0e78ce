"""What each event says, read from the rows of the change it reports, in its transaction.

Every call here goes inside the ``session.begin()`` block that commits the change (one line
at each place: recording/, library/, jobs/). Play URLs are not stored: an object is named by
its ``media_path`` and turned into a (maybe signed) ``url`` when the event is delivered or
read (:mod:`livetape.webhooks.render`), so a signed URL is fresh whenever it is sent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livetape.db.models import Event, Job, Recording, Rendition, Segment, Snapshot, VodFile
from livetape.events.event_log import lock, record

# recordings that end for these reasons, or with a file that could not be finalized, are
# reported as recording.failed (what was recorded is kept either way)
FAILED_REASONS = ("failed",)
_ENDINGS = ("recording.ended", "recording.failed")


def _media(key: str) -> str:
    return f"/media/{key}"


def _recording(row: Recording) -> dict[str, Any]:
    return {
        "recording_id": row.recording_id, "room_id": row.room_id, "user_id": row.user_id,
        "src_type": row.src_type, "record_type": row.record_type, "file_name": row.file_name,
        "started_at": row.started_at.isoformat(), "node_id": row.node_id,
        "gaps": list(row.gaps or []),
    }


async def recording_started(session: AsyncSession, recording_id: str) -> None:
    """recording.started: when its recorder runs, and again when it resumes (``gaps`` then
    holds the pauses); each run ends with one recording.ended (or .failed)."""
    row = await session.get(Recording, recording_id)
    if row is not None:
        await record(session, row.app_id, "recording.started", _recording(row),
                     recording_id=recording_id)


async def recording_ended(session: AsyncSession, recording_id: str, reason: str) -> None:
    """recording.ended (or .failed) with the reason and the files, once per run of the
    recording (a resumed recording runs again, and ends again with every file)."""
    await lock(session)  # before the check: two enders cannot both find none
    row = await session.get(Recording, recording_id)
    run = await session.scalar(select(func.max(Event.seq)).where(
        Event.recording_id == recording_id, Event.type == "recording.started"))
    if row is None or await session.scalar(select(Event.seq).where(
            Event.recording_id == recording_id, Event.type.in_(_ENDINGS),
            Event.seq > (run or 0)).limit(1)):
        return
    segments = list(await session.execute(
        select(Segment.file_id, Segment.state).where(Segment.recording_id == recording_id)
        .order_by(Segment.seq)))
    failed = sum(1 for _, state in segments if state == "failed")
    type_ = "recording.failed" if reason in FAILED_REASONS or failed else "recording.ended"
    data = {**_recording(row), "reason": reason,
            "file_ids": [file_id for file_id, _ in segments if file_id],
            "failed_segments": failed}
    await record(session, row.app_id, type_, data, recording_id=recording_id)


def _file(row: VodFile) -> dict[str, Any]:
    return {
        "file_id": row.file_id, "file_name": row.file_name, "duration": round(row.duration, 3),
        "size": row.size, "recording_id": row.recording_id, "segment": row.segment_seq,
        "room_id": row.room_id, "user_id": row.user_id, "src_type": row.src_type,
    }


async def file_ready(session: AsyncSession, row: VodFile) -> None:
    """The file landed in the library (status 2): it plays."""
    data = {**_file(row), "video_codec": row.video_codec, "audio_codec": row.audio_codec,
            "width": row.width, "height": row.height, "bitrate": row.bitrate,
            "play_set": [{"definition": 0, "media_path": _media(row.storage_key),
                          "vbitrate": row.video_bitrate, "vwidth": row.width,
                          "vheight": row.height}]}
    await record(session, row.app_id, "file.ready", data, recording_id=row.recording_id)


async def file_gone(session: AsyncSession, row: VodFile, *, expired: bool) -> None:
    """file.deleted (by a call) or file.expired (its expire_time passed)."""
    type_ = "file.expired" if expired else "file.deleted"
    data = {**_file(row), "expire_time": row.expire_time.isoformat() if row.expire_time
            else None}
    await record(session, row.app_id, type_, data, recording_id=row.recording_id)


async def _outputs(session: AsyncSession, job: Job) -> list[dict[str, Any]]:
    if job.kind == "snapshot":
        offsets = {int(o) for o in job.params.get("time_offsets_ms", [])}
        shots = await session.scalars(select(Snapshot).where(Snapshot.file_id == job.file_id)
                                      .order_by(Snapshot.kind, Snapshot.time_offset_ms))
        return [{"kind": s.kind, "time_offset_ms": s.time_offset_ms if s.kind == "offset"
                 else None, "width": s.width, "height": s.height,
                 "media_path": _media(s.storage_key)}
                for s in shots if (s.kind == "cover" and job.params.get("cover"))
                or (s.kind == "offset" and s.time_offset_ms in offsets)]
    wanted = [1] if job.kind == "watermark" else [int(d) for d in
                                                   job.params.get("definitions", [])]
    renditions = await session.scalars(select(Rendition).where(
        Rendition.file_id == job.file_id, Rendition.definition.in_(wanted))
        .order_by(Rendition.definition))
    return [{"definition": r.definition, "container": r.container, "width": r.width,
             "height": r.height, "duration": round(r.duration, 3), "size": r.size,
             "media_path": _media(r.storage_key)} for r in renditions]


async def job_finished(session: AsyncSession, job: Job, state: str, error: str = "") -> None:
    """A processing job ended for good: ``done`` with its outputs, or ``failed`` with why."""
    file = await session.get(VodFile, job.file_id)
    data = {"job_id": job.job_id, "kind": job.kind, "state": state, "file_id": job.file_id,
            "file_name": file.file_name if file else None, "error": error[:1000],
            "outputs": await _outputs(session, job) if state == "done" else []}
    await record(session, job.app_id, "job.finished", data,
                 recording_id=file.recording_id if file else None)
