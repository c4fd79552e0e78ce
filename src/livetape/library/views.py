"""A library file as the API shows it (play info, the files API, the console, the SDKs).

:func:`file_view` turns a file's row and extras into a :class:`FileView`; the play URLs come
from a ``url_for`` (plain, or signed under one grant: :mod:`livetape.playback`). The keys and
values are those the original product answers; optional keys (a rendition's ``container``,
``duration`` and ``size``) are left out, not sent as null, where the original leaves them out.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from livetape.db.models import FileStatus, Rendition, VodFile
from livetape.library.files import HLS_MASTER, FileExtras, Library, UrlFor


def _absent(value: object) -> bool:
    return value is None


class PlayItem(BaseModel):
    """One playable version: the original (definition 0) or a rendition."""

    url: str = Field(description="absolute; signed when the app signs play URLs")
    definition: int = Field(description="0: the original; 1: watermarked; 10-30: MP4 ladder; "
                            "210-230: HLS")
    vbitrate: int = Field(description="video bits per second")
    vwidth: int
    vheight: int
    # renditions only (the original's item has none of the three)
    container: str | None = Field(default=None, exclude_if=_absent, description="mp4, hls")
    duration: float | None = Field(default=None, exclude_if=_absent, description="seconds")
    size: int | None = Field(default=None, exclude_if=_absent, description="bytes")


class SnapshotView(BaseModel):
    """An image taken at an offset (the cover is ``image_url``)."""

    time_offset_ms: int
    width: int
    height: int
    url: str


class FileView(BaseModel):
    """A library file with its play URLs (DescribeVodPlayInfo, DescribeVodInfo)."""

    file_id: str
    file_name: str
    duration: float = Field(description="seconds")
    size: int = Field(description="bytes of the original")
    status: int = Field(description="-1 not stored yet, 2 normal, 4 processing, 7 failed")
    create_time: str = Field(description="ISO 8601")
    class_id: int
    description: str
    expire_time: str | int = Field(description="ISO 8601, or -1: never")
    tags: list[str]
    recording_id: str | None
    room_id: str | None
    user_id: str | None
    src_type: str | None
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    bitrate: int = Field(description="bits per second, whole file")
    status_reason: str = Field(description="why the last processing job failed (status 7), "
                               "or that the file still waits for object storage (it plays)")
    image_url: str = Field(description="the cover's URL; empty when there is none")
    hls_master_url: str = Field(description="the HLS master playlist; empty when none")
    play_set: list[PlayItem] = Field(description="empty unless the file is playable")
    snapshots: list[SnapshotView]
    storage_size: int = Field(description="bytes stored: the original and its renditions")


def _rendition(url_for: UrlFor, rendition: Rendition) -> PlayItem:
    return PlayItem(
        url=url_for(Library.media_path(rendition.storage_key)),
        definition=rendition.definition, vbitrate=rendition.video_bitrate,
        vwidth=rendition.width, vheight=rendition.height, container=rendition.container,
        duration=round(rendition.duration, 3), size=rendition.size,
    )


def file_view(row: VodFile, extras: FileExtras, url_for: UrlFor) -> FileView:
    """A file as play info and the files API show it."""
    playable = FileStatus(row.status).playable
    play_set = [PlayItem(
        url=url_for(Library.media_path(row.storage_key)), definition=0,
        vbitrate=row.video_bitrate, vwidth=row.width, vheight=row.height,
    )] if playable else []
    play_set += [_rendition(url_for, r) for r in extras.renditions] if playable else []
    covers = [s for s in extras.snapshots if s.kind == "cover"]
    hls = any(r.container == "hls" for r in extras.renditions)
    master = Library.media_path(f"{row.app_id}/{row.file_id}/{HLS_MASTER}")
    return FileView(
        file_id=row.file_id, file_name=row.file_name, duration=round(row.duration, 3),
        size=row.size, status=row.status, create_time=row.create_time.isoformat(),
        class_id=row.class_id, description=row.description,
        expire_time=row.expire_time.isoformat() if row.expire_time else -1,
        tags=row.tags, recording_id=row.recording_id, room_id=row.room_id,
        user_id=row.user_id, src_type=row.src_type, video_codec=row.video_codec,
        audio_codec=row.audio_codec, width=row.width, height=row.height, bitrate=row.bitrate,
        status_reason=row.status_reason,
        image_url=url_for(Library.media_path(covers[0].storage_key)) if covers else "",
        hls_master_url=url_for(master) if hls and playable else "",
        play_set=play_set,
        snapshots=[SnapshotView(
            time_offset_ms=s.time_offset_ms, width=s.width, height=s.height,
            url=url_for(Library.media_path(s.storage_key)),
        ) for s in extras.snapshots if s.kind == "offset"],
        storage_size=row.size + sum(r.size for r in extras.renditions),
    )
