"""The processing feature's rules: which file may be converted, snapshotted or watermarked,
the jobs each call queues, and the app's watermark template (one PNG and its corner).

Each call queues jobs and answers at once; workers run them (see ``livetape.jobs.worker``).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

from livetape.auth.apps import AppService
from livetape.config import Settings
from livetape.db.models import FileStatus, Job, JobState, VodFile
from livetape.errors import Catalogue, LivetapeError
from livetape.jobs.queue import JobQueue
from livetape.jobs.rules import interval_offsets, require_watermark
from livetape.library.files import Library, Provenance
from livetape.processing import check_png
from livetape.processing.probe import MediaInfo


def watermark_key(app_id: str) -> str:
    """Where an app's watermark template is stored."""
    return f"{app_id}/_watermark/watermark.png"


class ProcessingService:
    def __init__(self, settings: Settings, library: Library, jobs: JobQueue,
                 apps: AppService) -> None:
        self._settings = settings
        self._library = library
        self._jobs = jobs
        self._apps = apps

    async def landed(self, source: Provenance, file_id: str, info: MediaInfo) -> None:
        """Queue what a recorded file gets once it is in the library: a cover, and what start
        recording asked for (snapshots, the transcode ladder, a watermark)."""
        settings = self._settings
        has_video = info.video_codec is not None
        if has_video and (settings.auto_cover or source.screenshot):
            offsets = interval_offsets(info.duration, settings) if source.screenshot else []
            await self._jobs.enqueue(source.app_id, file_id, "snapshot",
                                     {"cover": True, "time_offsets_ms": offsets})
        if source.transcode:
            await self._jobs.enqueue(source.app_id, file_id, "transcode",
                                     {"definitions": settings.record_transcode_definitions})
        if source.watermark and has_video:
            await self._jobs.enqueue(source.app_id, file_id, "watermark", {})

    async def _video_file(self, app_id: str, file_id: str) -> VodFile:
        row = await self._library.get(app_id, file_id)
        if row.status == FileStatus.NOT_STORED:
            raise LivetapeError(Catalogue.CONFLICT, f"file {file_id} is not stored yet")
        return row

    async def _watermarkable(self, app_id: str, row: VodFile) -> None:
        if row.video_codec is None:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, "an audio-only file has no picture "
                                "to watermark")
        require_watermark(await self._apps.get(app_id))

    async def convert(self, app_id: str, file_id: str, definitions: Sequence[int], *,
                      watermark: bool, screenshot: bool) -> list[Job]:
        """ConvertVodFile: a transcode job, and a watermark and a snapshot job if asked (no
        snapshots of an audio-only file). The transcode job comes first."""
        row = await self._video_file(app_id, file_id)
        if not definitions:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, "definitions is empty")
        if watermark:
            await self._watermarkable(app_id, row)
        jobs = [await self._jobs.enqueue(app_id, file_id, "transcode",
                                         {"definitions": sorted(set(definitions))})]
        if watermark:
            jobs.append(await self._jobs.enqueue(app_id, file_id, "watermark", {}))
        if screenshot and row.video_codec is not None:
            offsets = interval_offsets(row.duration, self._settings)
            jobs.append(await self._jobs.enqueue(app_id, file_id, "snapshot",
                                                 {"cover": True, "time_offsets_ms": offsets}))
        return jobs

    async def snapshot(self, app_id: str, file_id: str, time_offsets_ms: Sequence[int], *,
                       cover: bool, width: int | None) -> Job:
        """CreateSnapshotByTimeOffset: JPEGs at these offsets (within the video), and/or a
        new cover."""
        row = await self._video_file(app_id, file_id)
        if row.video_codec is None:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, "an audio-only file has no pictures")
        offsets = sorted(set(time_offsets_ms))
        if not offsets and not cover:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, "give time_offsets_ms or cover=true")
        most = self._settings.max_snapshots
        if len(offsets) > most:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"at most {most} offsets")
        late = [o for o in offsets if o > row.duration * 1000]
        if late:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"offsets past the end "
                                f"({row.duration * 1000:.0f} ms): {late}")
        return await self._jobs.enqueue(app_id, file_id, "snapshot", {
            "time_offsets_ms": offsets, "cover": cover, "width": width})

    async def watermark_file(self, app_id: str, file_id: str) -> Job:
        """Definition 1: the watermarked original."""
        row = await self._video_file(app_id, file_id)
        await self._watermarkable(app_id, row)
        return await self._jobs.enqueue(app_id, file_id, "watermark", {})

    async def jobs(self, app_id: str, *, file_id: str | None, state: JobState | None,
                   limit: int) -> list[Job]:
        """The app's jobs, newest first, of one file and/or in one state."""
        return await self._jobs.list(app_id, file_id=file_id, state=state, limit=limit)

    async def job(self, app_id: str, job_id: str) -> Job:
        return await self._jobs.get(app_id, job_id)

    async def set_watermark(self, app_id: str, png: bytes, position: str) -> tuple[int, int]:
        """Store the app's watermark template (a PNG, checked) and its corner; returns the
        picture's width and height."""
        key = watermark_key(app_id)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "watermark.png"
            path.write_bytes(png)
            try:
                width, height = await asyncio.to_thread(check_png, path)
            except ValueError as exc:
                raise LivetapeError(Catalogue.INVALID_PARAMETER, str(exc)) from exc
            await self._library.storage.put(key, path)
        await self._apps.set_watermark(app_id, key, position)
        return width, height

    async def remove_watermark(self, app_id: str) -> None:
        await self._library.storage.delete(watermark_key(app_id))
        await self._apps.set_watermark(app_id, None)
