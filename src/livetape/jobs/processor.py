"""What a worker does with one claimed job: fetch the file, process it, store the results.

The media work (``livetape.processing``) runs in a thread of the worker process, never in
the server's event loop. Results go to storage first and to the database last, so a job
cut off half-way leaves at most objects that its re-run overwrites. A file deleted while
its job ran gets the job's objects deleted too.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.billing.usage import UsageLedger, transcode_meter
from livetape.config import Settings
from livetape.db.models import App, Job, Rendition, Snapshot, VodFile
from livetape.processing import Image, Output, cover, snapshots, transcode, watermark
from livetape.storage import Storage

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


class JobError(Exception):
    """A job that cannot succeed however often it runs (bad input, file gone)."""


class Processor:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], storage: Storage
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._storage = storage
        self._usage = UsageLedger(sessions)

    async def run(self, job: Job, progress: Progress) -> None:
        async with self._sessions() as session:
            file = await session.get(VodFile, job.file_id)
            app = await session.get(App, job.app_id)
        if file is None or app is None:
            raise JobError("the file was deleted")
        work_root = self._settings.data_dir / "work"
        work_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work_root, prefix=f"{job.job_id}-") as tmp:
            work = Path(tmp)
            (work / "out").mkdir()
            source = await self._storage.download(file.storage_key, work / "source.mp4")
            if job.kind == "transcode":
                await self._transcode(job, file, source, work / "out", progress)
            elif job.kind == "snapshot":
                await self._snapshot(job, file, source, work / "out")
            elif job.kind == "watermark":
                await self._watermark(job, file, app, source, work, progress)
            else:
                raise JobError(f"unknown job kind {job.kind!r}")

    def _prefix(self, file: VodFile) -> str:
        return f"{file.app_id}/{file.file_id}/"

    async def _upload(self, file: VodFile, out: Path, relative: list[Path]) -> None:
        for rel in relative:
            await self._storage.put(self._prefix(file) + rel.as_posix(), out / rel)

    async def _still_there(self, file: VodFile, session: AsyncSession) -> None:
        if await session.get(VodFile, file.file_id) is None:
            await self._storage.delete_prefix(self._prefix(file))
            raise JobError("the file was deleted while it was processed")

    async def _transcode(
        self, job: Job, file: VodFile, source: Path, out: Path, progress: Progress
    ) -> None:
        definitions = [int(d) for d in job.params.get("definitions", [])]
        try:
            result = await asyncio.to_thread(
                transcode, source, out, definitions, preset=self._settings.transcode_preset,
                hls_segment_seconds=self._settings.hls_segment_seconds,
                threads=self._settings.transcode_threads, progress=progress,
            )
        except ValueError as exc:
            raise JobError(str(exc)) from exc
        for output in result.outputs:  # an HLS variant replaces its old segments entirely
            if output.container == "hls":
                await self._storage.delete_prefix(
                    self._prefix(file) + output.path.parent.as_posix() + "/")
        files = await asyncio.to_thread(
            lambda: sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()))
        await self._upload(file, out, files)
        async with self._sessions() as session, session.begin():
            await self._still_there(file, session)
            for output in result.outputs:
                await self._save_rendition(session, file, output)
        await self._metered(file, result.outputs)

    async def _metered(self, file: VodFile, outputs: list[Output]) -> None:
        """Transcoding is billed by output time per resolution tier; storage by its peak."""
        for output in outputs:
            meter = transcode_meter(output.width, output.height)
            await self._usage.add(file.app_id, meter, round(output.duration * 1000))
        await self._usage.note_storage(file.app_id)

    async def _save_rendition(self, session: AsyncSession, file: VodFile, output: Output) -> None:
        await session.execute(delete(Rendition).where(
            Rendition.file_id == file.file_id, Rendition.definition == output.definition))
        session.add(Rendition(
            file_id=file.file_id, definition=output.definition, app_id=file.app_id,
            storage_key=self._prefix(file) + output.path.as_posix(),
            container=output.container, width=output.width, height=output.height,
            video_bitrate=output.video_bitrate, duration=output.duration, size=output.size,
        ))

    async def _snapshot(self, job: Job, file: VodFile, source: Path, out: Path) -> None:
        offsets = [int(o) for o in job.params.get("time_offsets_ms", [])]
        width = job.params.get("width")
        images: list[tuple[str, Image]] = []
        try:
            if job.params.get("cover"):
                taken = await asyncio.to_thread(cover, source, out, width=width)
                images += [("cover", taken)] if taken is not None else []
            if offsets:
                taken_all = await asyncio.to_thread(snapshots, source, out, offsets, width=width)
                images += [("offset", image) for image in taken_all]
        except ValueError as exc:
            raise JobError(str(exc)) from exc
        await self._upload(file, out, [image.path for _, image in images])
        async with self._sessions() as session, session.begin():
            await self._still_there(file, session)
            for kind, image in images:
                offset = -1 if kind == "cover" else image.time_offset_ms
                await session.execute(delete(Snapshot).where(
                    Snapshot.file_id == file.file_id, Snapshot.kind == kind,
                    Snapshot.time_offset_ms == offset))
                session.add(Snapshot(
                    file_id=file.file_id, kind=kind, time_offset_ms=offset, app_id=file.app_id,
                    storage_key=self._prefix(file) + image.path.as_posix(),
                    width=image.width, height=image.height,
                ))

    async def _watermark(
        self, job: Job, file: VodFile, app: App, source: Path, work: Path, progress: Progress
    ) -> None:
        if not app.watermark_key:
            raise JobError("the app has no watermark: upload a PNG with PUT /v1/vod/watermark")
        png = await self._storage.download(app.watermark_key, work / "watermark.png")
        target = work / "f1.mp4"
        try:
            result = await asyncio.to_thread(
                watermark, source, png, target, position=app.watermark_position,
                preset=self._settings.transcode_preset,
                threads=self._settings.transcode_threads, progress=progress,
            )
        except ValueError as exc:
            raise JobError(str(exc)) from exc
        await self._upload(file, work, [result.output.path])
        async with self._sessions() as session, session.begin():
            await self._still_there(file, session)
            await self._save_rendition(session, file, result.output)
        await self._metered(file, [result.output])


def clear_work_folder(settings: Settings) -> None:
    """Remove what killed workers left in the work folder (called at server start)."""
    shutil.rmtree(settings.data_dir / "work", ignore_errors=True)
