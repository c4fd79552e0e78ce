"""Processing over HTTP: ConvertVodFile, CreateSnapshotByTimeOffset, watermarking, jobs.

Each call queues jobs and answers at once; workers run them (see ``livetape.jobs.worker``).
The watermark template (one PNG per app, and its corner) is set here too.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import update

from livetape.api.deps import server, services
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import BIGINT_MAX, Input
from livetape.db.models import App, FileStatus, VodFile
from livetape.errors import Catalogue, LivetapeError
from livetape.jobs.queue import JobQueue
from livetape.jobs.rules import require_watermark
from livetape.library.files import interval_offsets
from livetape.processing import POSITIONS, check_png

router = APIRouter(prefix="/v1/vod", tags=["processing"])

Definition = Literal[10, 20, 30, 210, 220, 230]


def _default_definitions() -> list[Definition]:
    return [10, 20, 30]


class ConvertRequest(Input):
    """ConvertVodFile: renditions to make, and optionally a watermark and snapshots."""

    definitions: list[Definition] = Field(
        default_factory=_default_definitions,
        description="MP4 ladder 10/20/30 (360p, 720p, 1080p, capped at the source) and HLS "
        "210/220/230 (the same sizes, one master playlist)",
    )
    watermark: bool = Field(False, description="also make definition 1 (watermarked)")
    screenshot: bool = Field(False, description="also take a cover and snapshots")


class SnapshotRequest(Input):
    """CreateSnapshotByTimeOffset: JPEGs at these offsets (ms), and/or a new cover."""

    time_offsets_ms: list[Annotated[int, Field(ge=0, le=BIGINT_MAX)]] = Field(default_factory=list)
    cover: bool = False
    width: int | None = Field(None, ge=16, le=7680, description="default: the video's width")


async def _video_file(request: Request, who: Identity, file_id: str) -> VodFile:
    row = await services(request).library.get(who.app_id, file_id)
    if row.status == FileStatus.NOT_STORED:
        raise LivetapeError(Catalogue.CONFLICT, f"file {file_id} is not stored yet")
    return row


@router.post("/files/{file_id}/convert", summary="ConvertVodFile: transcode to renditions")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def convert(
    file_id: str, body: ConvertRequest, request: Request,
    who: Annotated[Identity, Depends(server)],
) -> dict[str, Any]:
    svc = services(request)
    row = await _video_file(request, who, file_id)
    if not body.definitions:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, "definitions is empty")
    if body.watermark:
        await _watermarkable(request, who.app_id, row)
    definitions = sorted(set(body.definitions))
    jobs = [await svc.jobs.enqueue(who.app_id, file_id, "transcode",
                                   {"definitions": definitions})]
    if body.watermark:
        jobs.append(await svc.jobs.enqueue(who.app_id, file_id, "watermark", {}))
    if body.screenshot and row.video_codec is not None:
        offsets = interval_offsets(row.duration, svc.settings)
        jobs.append(await svc.jobs.enqueue(who.app_id, file_id, "snapshot",
                                           {"cover": True, "time_offsets_ms": offsets}))
    return {"code": 0, "message": "ok", "task_id": jobs[0].job_id,
            "jobs": [JobQueue.describe(job) for job in jobs]}


@router.post("/files/{file_id}/snapshots", summary="CreateSnapshotByTimeOffset")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def snapshot(
    file_id: str, body: SnapshotRequest, request: Request,
    who: Annotated[Identity, Depends(server)],
) -> dict[str, Any]:
    svc = services(request)
    row = await _video_file(request, who, file_id)
    if row.video_codec is None:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, "an audio-only file has no pictures")
    offsets = sorted(set(body.time_offsets_ms))
    if not offsets and not body.cover:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, "give time_offsets_ms or cover=true")
    if len(offsets) > svc.settings.max_snapshots:
        raise LivetapeError(Catalogue.INVALID_PARAMETER,
                            f"at most {svc.settings.max_snapshots} offsets")
    late = [o for o in offsets if o > row.duration * 1000]
    if late:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, f"offsets past the end "
                            f"({row.duration * 1000:.0f} ms): {late}")
    job = await svc.jobs.enqueue(who.app_id, file_id, "snapshot", {
        "time_offsets_ms": offsets, "cover": body.cover, "width": body.width})
    return {"code": 0, "message": "ok", "task_id": job.job_id, **JobQueue.describe(job)}


@router.post("/files/{file_id}/watermark", summary="Make definition 1: the watermarked original")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def watermark_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    row = await _video_file(request, who, file_id)
    await _watermarkable(request, who.app_id, row)
    job = await services(request).jobs.enqueue(who.app_id, file_id, "watermark", {})
    return {"code": 0, "message": "ok", "task_id": job.job_id, **JobQueue.describe(job)}


async def _watermarkable(request: Request, app_id: str, row: VodFile) -> None:
    if row.video_codec is None:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, "an audio-only file has no picture "
                            "to watermark")
    require_watermark(await services(request).apps.get(app_id))


@router.get("/jobs", summary="Processing jobs (newest first)")
async def list_jobs(
    request: Request, who: Annotated[Identity, Depends(server)],
    file_id: str | None = None,
    state: Annotated[Literal["queued", "running", "done", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    jobs = await services(request).jobs.list(who.app_id, file_id=file_id, state=state,
                                             limit=limit)
    return {"code": 0, "message": "ok", "jobs": [JobQueue.describe(job) for job in jobs]}


@router.get("/jobs/{job_id}", summary="One job: state and progress percent")
@raises(Catalogue.NOT_FOUND)
async def get_job(
    job_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    job = await services(request).jobs.get(who.app_id, job_id)
    return {"code": 0, "message": "ok", **JobQueue.describe(job)}


@router.put("/watermark", summary="Set the app's watermark: a PNG body, and its corner",
            openapi_extra={"requestBody": {"required": True,
                                           "content": {"image/png": {"schema": {
                                               "type": "string", "format": "binary"}}}}})
@raises(Catalogue.INVALID_PARAMETER)
async def put_watermark(
    request: Request, who: Annotated[Identity, Depends(server)],
    position: Annotated[Literal[POSITIONS], Query()] = "top-right",  # type: ignore[valid-type]
) -> dict[str, Any]:
    svc = services(request)
    body = await request.body()  # at most LIVETAPE_WATERMARK_MAX_BYTES (api/limits.py)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "watermark.png"
        path.write_bytes(body)
        try:
            width, height = await asyncio.to_thread(check_png, path)
        except ValueError as exc:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, str(exc)) from exc
        key = f"{who.app_id}/_watermark/watermark.png"
        await svc.library.storage.put(key, path)
    async with svc.db.sessions() as session, session.begin():
        await session.execute(update(App).where(App.app_id == who.app_id)
                              .values(watermark_key=key, watermark_position=position))
    return {"code": 0, "message": "ok", "width": width, "height": height, "position": position}


@router.delete("/watermark", summary="Remove the app's watermark")
async def delete_watermark(
    request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    svc = services(request)
    await svc.library.storage.delete(f"{who.app_id}/_watermark/watermark.png")
    async with svc.db.sessions() as session, session.begin():
        await session.execute(update(App).where(App.app_id == who.app_id)
                              .values(watermark_key=None))
    return {"code": 0, "message": "ok"}

