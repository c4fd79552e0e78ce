"""What the API shows of a processing job."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from livetape.db.models import Job, JobState


class JobView(BaseModel):
    """A processing job: what it makes, its state and progress."""

    job_id: str
    file_id: str
    kind: str = Field(description="transcode | snapshot | watermark")
    params: dict[str, Any] = Field(description="what the job was asked to make")
    state: JobState
    progress: float = Field(description="percent")
    error: str = Field(description="why it failed; empty otherwise")
    attempts: int
    create_time: str
    start_time: str | None
    finish_time: str | None

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(
            job_id=job.job_id, file_id=job.file_id, kind=job.kind, params=job.params,
            state=JobState(job.state), progress=job.progress, error=job.error,
            attempts=job.attempts, create_time=job.created_at.isoformat(),
            start_time=job.started_at.isoformat() if job.started_at else None,
            finish_time=job.finished_at.isoformat() if job.finished_at else None,
        )
