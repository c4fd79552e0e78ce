"""Processing over HTTP: ConvertVodFile, CreateSnapshotByTimeOffset, watermarking, jobs.

The rules live in ``livetape.jobs.processing_service``; each call queues jobs and answers at
once. The watermark template (one PNG per app, and its corner) is set here too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from livetape.api.deps import server, services
from livetape.api.envelope import Envelope, Ok
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import BIGINT_MAX, Input
from livetape.db.models import JobState
from livetape.errors import Catalogue
from livetape.jobs.job_view import JobView
from livetape.processing import POSITIONS

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


class ConvertAnswer(Envelope):
    task_id: str = Field(description="the transcode job's id")
    jobs: list[JobView] = Field(description="the transcode job, then watermark and snapshot")


class JobAnswer(JobView, Envelope):
    """One job queued."""

    task_id: str = Field(description="the job's id")


class JobDetail(JobView, Envelope):
    """One job."""


class JobList(Envelope):
    jobs: list[JobView]


class WatermarkAnswer(Envelope):
    width: int
    height: int
    position: str


def _queued(job: JobView) -> JobAnswer:
    return JobAnswer(task_id=job.job_id, **job.model_dump())


@router.post("/files/{file_id}/convert", summary="ConvertVodFile: transcode to renditions")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def convert(
    file_id: str, body: ConvertRequest, request: Request,
    who: Annotated[Identity, Depends(server)],
) -> ConvertAnswer:
    jobs = await services(request).processing.convert(
        who.app_id, file_id, body.definitions, watermark=body.watermark,
        screenshot=body.screenshot)
    return ConvertAnswer(task_id=jobs[0].job_id, jobs=[JobView.of(job) for job in jobs])


@router.post("/files/{file_id}/snapshots", summary="CreateSnapshotByTimeOffset")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def snapshot(
    file_id: str, body: SnapshotRequest, request: Request,
    who: Annotated[Identity, Depends(server)],
) -> JobAnswer:
    job = await services(request).processing.snapshot(
        who.app_id, file_id, body.time_offsets_ms, cover=body.cover, width=body.width)
    return _queued(JobView.of(job))


@router.post("/files/{file_id}/watermark", summary="Make definition 1: the watermarked original")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def watermark_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> JobAnswer:
    job = await services(request).processing.watermark_file(who.app_id, file_id)
    return _queued(JobView.of(job))


@router.get("/jobs", summary="Processing jobs (newest first)")
async def list_jobs(
    request: Request, who: Annotated[Identity, Depends(server)],
    file_id: str | None = None,
    state: Annotated[JobState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JobList:
    jobs = await services(request).processing.jobs(who.app_id, file_id=file_id, state=state,
                                                   limit=limit)
    return JobList(jobs=[JobView.of(job) for job in jobs])


@router.get("/jobs/{job_id}", summary="One job: state and progress percent")
@raises(Catalogue.NOT_FOUND)
async def get_job(
    job_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> JobDetail:
    job = await services(request).processing.job(who.app_id, job_id)
    return JobDetail(**JobView.of(job).model_dump())


@router.put("/watermark", summary="Set the app's watermark: a PNG body, and its corner",
            openapi_extra={"requestBody": {"required": True,
                                           "content": {"image/png": {"schema": {
                                               "type": "string", "format": "binary"}}}}})
@raises(Catalogue.INVALID_PARAMETER)
async def put_watermark(
    request: Request, who: Annotated[Identity, Depends(server)],
    position: Annotated[Literal[POSITIONS], Query()] = "top-right",  # type: ignore[valid-type]
) -> WatermarkAnswer:
    body = await request.body()  # at most LIVETAPE_WATERMARK_MAX_BYTES (api/limits.py)
    width, height = await services(request).processing.set_watermark(who.app_id, body, position)
    return WatermarkAnswer(width=width, height=height, position=position)


@router.delete("/watermark", summary="Remove the app's watermark")
async def delete_watermark(request: Request, who: Annotated[Identity, Depends(server)]) -> Ok:
    await services(request).processing.remove_watermark(who.app_id)
    return Ok()
