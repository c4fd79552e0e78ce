"""What the API shows of a recording: its row, its progress while it runs, the answers of
start and stop."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from livetape.db.models import Recording


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class RecordingView(BaseModel):
    """A recording as its row holds it."""

    recording_id: str
    room_id: str
    user_id: str
    src_type: str = Field(description="camera | screen")
    record_type: str = Field(description="video | audio")
    file_name: str
    class_id: int
    tags: list[str]
    transcode: bool
    screenshot: bool
    watermark: bool
    state: str = Field(description="recording | ended")
    end_reason: str | None = Field(
        description="stopped, publisher_left, room_closed, idle, shutdown, recovered, "
        "node_lost, ...")
    started_at: str | None
    ended_at: str | None
    gaps: list[dict[str, object]] = Field(
        default_factory=list, description="a resumed recording's pauses (its publisher's "
        "connection dropped or its node died, then it published again): [{from, to, "
        "seconds}], oldest first")

    @classmethod
    def of(cls, row: Recording) -> RecordingView:
        return cls(
            recording_id=row.recording_id, room_id=row.room_id, user_id=row.user_id,
            src_type=row.src_type, record_type=row.record_type, file_name=row.file_name,
            class_id=row.class_id, tags=row.tags, transcode=row.transcode,
            screenshot=row.screenshot, watermark=row.watermark, state=row.state,
            end_reason=row.end_reason, started_at=_iso(row.started_at),
            ended_at=_iso(row.ended_at), gaps=list(row.gaps or []),
        )


class RecordingProgress(RecordingView):
    """A recording in progress: how long it has run, the file being written, those landed."""

    elapsed_seconds: float
    segment: int = Field(description="the number of the file being written; 0 until the "
                         "first key frame")
    written: dict[str, int] = Field(description="samples written, by kind (audio, video)")
    file_ids: list[str]


class RecordingDetail(RecordingView):
    """A recording with its files; while it runs, what its recorder received and wrote (the
    last three fields are left out once it ended)."""

    file_ids: list[str]
    received: dict[str, int] | None = Field(None, description="samples received, by kind")
    written: dict[str, int] | None = Field(None, description="samples written, by kind")
    dropped: int | None = Field(None, description="damaged video frames left out")


class RecordingStarted(BaseModel):
    recording_id: str


class RecordingStopped(RecordingStarted):
    file_ids: list[str] = Field(description="the library files it made")
