"""SQLAlchemy models: apps, rooms, recordings, segments, library files and their processing.

Schema changes go through ``db/migrations`` (alembic); these classes are the source the
migrations are written from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class FileStatus(IntEnum):
    """A library file's status, with the original's numbers (its API shows them)."""

    NOT_STORED = -1  # registered, its object not in storage yet (a crash leaves it so)
    NORMAL = 2
    PROCESSING = 4  # a transcode or watermark job is queued or running
    FAILED = 7  # the last such job failed; the source still plays

    @property
    def playable(self) -> bool:
        """The original plays a file while (and after) processing runs or fails."""
        return self is not FileStatus.NOT_STORED


class JobState(StrEnum):
    """A processing job's state (``vod_jobs.state``)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class App(Base):
    __tablename__ = "apps"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # anti-leech play URLs: KEY of md5(KEY + Dir + t + exper + rlimit + us); apps created
    # before signing existed keep unsigned URLs until they turn it on
    play_key: Mapped[str] = mapped_column(String(64), default="", server_default="")
    sign_play_urls: Mapped[bool] = mapped_column(default=True, server_default=sa_false())
    # the watermark template: a PNG object in storage and the corner it goes to
    watermark_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    watermark_position: Mapped[str] = mapped_column(
        String(16), default="top-right", server_default="top-right"
    )
    # recording needs VOD activated (code 1 otherwise) and the app's recording switch on
    vod_activated: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    record_enabled: Mapped[bool] = mapped_column(default=True, server_default=sa_true())


class AppKey(Base):
    """A secret key of an app. The app's ``secret_key`` is the current one (it signs the
    tokens livetape mints); a rotated-out key keeps working until ``expires_at`` (its grace
    period), a revoked one stops at once."""

    __tablename__ = "app_keys"
    __table_args__ = (Index("ix_app_keys_app", "app_id"),)

    key_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    secret: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Room(Base):
    __tablename__ = "rooms"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(8))  # "multi" | "pair"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Recording(Base):
    """One start..stop of one published stream; produces one file per segment."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_stream", "app_id", "room_id", "user_id", "src_type"),)

    recording_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    room_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    src_type: Mapped[str] = mapped_column(String(8))  # "camera" | "screen"
    record_type: Mapped[str] = mapped_column(String(8))  # "video" | "audio"
    file_name: Mapped[str] = mapped_column(String(200))
    class_id: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    transcode: Mapped[bool] = mapped_column(default=False)
    screenshot: Mapped[bool] = mapped_column(default=False)
    watermark: Mapped[bool] = mapped_column(default=False)
    # "recording" while it runs; "ended" afterwards (end_reason says why).
    state: Mapped[str] = mapped_column(String(12), default="recording")
    # "stopped" (by a stop request), "idle", "publisher_left", "room_closed", "shutdown",
    # "recovered" (finalized at start-up after a crash), "failed", "node_lost" (its media
    # node died: a survivor finalized what reached the shared storage).
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    work_dir: Mapped[str] = mapped_column(String(500))
    # the media node writing it (its files are on that node's disk: only it recovers them)
    node_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # until when a publisher that publishes the stream again continues it (its connection
    # dropped or its node died); None: it never resumes (stopped, closed, ...)
    resume_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the pauses of a resumed recording: [{"from": iso, "to": iso, "seconds": float}]
    gaps: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)


class Segment(Base):
    """One output file of a recording: written as fragmented MP4, then finalized."""

    __tablename__ = "segments"

    recording_id: Mapped[str] = mapped_column(
        ForeignKey("recordings.recording_id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_path: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(12), default="writing")  # writing|done|empty
    file_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VodClass(Base):
    """A library category; categories form a tree per app (parent 0 = top level)."""

    __tablename__ = "vod_classes"
    __table_args__ = (Index("ix_vod_classes_parent", "app_id", "parent_id"),)

    class_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VodFile(Base):
    """A file in the VOD library (status codes as the original: -1, 2, 4, 7, 100)."""

    __tablename__ = "vod_files"
    __table_args__ = (
        Index("ix_vod_files_name", "app_id", "file_name"),
        Index("ix_vod_files_recording", "recording_id"),
    )

    file_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    file_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer, default=FileStatus.NOT_STORED)
    storage_key: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    duration: Mapped[float] = mapped_column(default=0.0)
    video_codec: Mapped[str | None] = mapped_column(String(16), nullable=True)
    audio_codec: Mapped[str | None] = mapped_column(String(16), nullable=True)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    bitrate: Mapped[int] = mapped_column(Integer, default=0)  # bits per second, whole file
    video_bitrate: Mapped[int] = mapped_column(Integer, default=0)
    recording_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    segment_seq: Mapped[int] = mapped_column(Integer, default=0)
    room_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    src_type: Mapped[str | None] = mapped_column(String(8), nullable=True)
    class_id: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    # deleted by the expiry sweeper once passed; None = never (the API's -1)
    expire_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # why the last processing job failed (status 7)
    status_reason: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    # the node whose spool holds the original while it waits for the object store (other
    # nodes send its players there); None once it is in the store
    spooled_on: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Rendition(Base):
    """A processed version of a file: MP4 ladder (10/20/30), HLS (210..230), watermark (1)."""

    __tablename__ = "vod_renditions"

    file_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    definition: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    # the object players open: an MP4, or an HLS variant playlist
    storage_key: Mapped[str] = mapped_column(String(500))
    container: Mapped[str] = mapped_column(String(8))  # "mp4" | "hls"
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    video_bitrate: Mapped[int] = mapped_column(Integer, default=0)
    duration: Mapped[float] = mapped_column(default=0.0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)  # every object, segments too
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Snapshot(Base):
    """A JPEG taken from a file: its cover, or a snapshot at a time offset."""

    __tablename__ = "vod_snapshots"

    file_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "cover" | "offset"
    time_offset_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    storage_key: Mapped[str] = mapped_column(String(500))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Job(Base):
    """A processing job (transcode, snapshot, watermark) in the shared queue.

    Any worker, on any machine that reaches the database and the storage, claims a queued
    job by a conditional update and holds it with a lease it renews; a job whose lease ran
    out (its worker died) is claimed again and re-run.
    """

    __tablename__ = "vod_jobs"
    __table_args__ = (
        Index("ix_vod_jobs_state", "state", "created_at"),
        Index("ix_vod_jobs_file", "file_id"),
    )

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    file_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # "transcode" | "snapshot" | "watermark"
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default=JobState.QUEUED)
    progress: Mapped[float] = mapped_column(default=0.0)  # percent
    error: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UsageDay(Base):
    """One meter of one app on one UTC day: bytes sent, peak bytes stored, output seconds.

    Counters (traffic, transcoding) are added to; the storage peak is raised to the highest
    level seen that day. Bills are made from these rows once a day is over.
    """

    __tablename__ = "usage_days"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC)
    meter: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class BalanceEntry(Base):
    """One movement of an app's balance, in micro-CNY (1e-6): a top-up (+) or a day's bill
    (-). The balance is their sum; ``ref`` makes each movement happen once."""

    __tablename__ = "balance_entries"
    __table_args__ = (UniqueConstraint("app_id", "kind", "ref", name="uq_balance_once"),)

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    kind: Mapped[str] = mapped_column(String(8))  # "topup" | "bill"
    ref: Mapped[str] = mapped_column(String(64))  # top-up reference, or the bill's day
    amount: Mapped[int] = mapped_column(BigInteger)  # micro-CNY, signed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BillingPlan(Base):
    """An app's billing mode from ``effective_day`` on (until a later row): ``postpaid``
    or ``package`` with its included storage (GB) and monthly traffic (GB). An app with no
    row is postpaid. A change is written for the next billing day, never for today."""

    __tablename__ = "billing_plans"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"), primary_key=True)
    effective_day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    mode: Mapped[str] = mapped_column(String(16))  # "postpaid" | "package"
    storage_gb: Mapped[int] = mapped_column(BigInteger, default=0)
    traffic_gb: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Bill(Base):
    """One app's bill for one UTC day: line items (JSON) and their total in micro-CNY.

    Written in the same transaction as the balance entry it draws (kind ``bill``, ref the
    day); the primary key makes each day billed once however often finalization runs."""

    __tablename__ = "bills"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)  # micro-CNY, >= 0
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Event(Base):
    """One thing that happened to an app's recordings or files (the outbox): written in the
    same transaction as the change it reports, then delivered to webhooks and read by the
    feed. ``seq`` orders all events (the feed's cursor); on PostgreSQL event writers take a
    transaction lock so that ``seq`` order is commit order."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_app_seq", "app_id", "seq"),
                      Index("ix_events_recording", "recording_id"))

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recording_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Webhook(Base):
    """An app's webhook endpoint: its URL, the event types it wants (empty: all) and the
    secret its deliveries are signed with (Standard Webhooks, ``whsec_`` + base64)."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_app", "app_id"),)

    webhook_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delivery(Base):
    """One event to one webhook: ``pending`` (due at ``next_attempt_at``), ``sending`` (a
    server claimed it until ``lease_until``), ``delivered`` or ``failed`` (retries ran out at
    ``give_up_at``). Written with its event, in the same transaction."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_deliveries_due", "state", "next_attempt_at"),
                      Index("ix_deliveries_webhook", "webhook_id", "event_seq"),
                      Index("ix_deliveries_order", "webhook_id", "recording_id", "event_seq"))

    delivery_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(40))
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    recording_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # None: created_at + LIVETAPE_WEBHOOK_RETRY_HOURS; set by a redelivery by hand
    give_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PulledEvent(Base):
    """An event handed out by a pull that must be confirmed (the original's PullEvents and
    ConfirmEvents): its ``handle`` is good until ``lease_until``; unconfirmed by then, the
    event is handed out again under a new handle. Rows at or below the app's lowest
    unconfirmed event are pruned."""

    __tablename__ = "pulled_events"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.app_id"), primary_key=True)
    event_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    handle: Mapped[str] = mapped_column(String(48), unique=True)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed: Mapped[bool] = mapped_column(default=False)


class DeliveryAttempt(Base):
    """One attempt of a delivery: when, the receiver's HTTP status (None: no answer), how
    long it took and what went wrong."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ok: Mapped[bool] = mapped_column(default=False)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(500), default="")
    node: Mapped[str] = mapped_column(String(100), default="")
