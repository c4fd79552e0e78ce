"""ProcessMedia and DescribeTaskDetail on livetape's processing jobs; DescribeStorageData from
the billing meters.

ProcessMedia queues what ConvertVodFile and CreateSnapshotByTimeOffset queue (the same
service, the same checks). Definitions are livetape's ladder: 10, 20, 30 (MP4 at 360p, 720p,
1080p, capped at the source) and 210, 220, 230 (HLS), with the original's 100010, 100020,
100030, 100210, 100220, 100230 taken as the same rungs. A transcode task carrying a
``WatermarkSet`` also makes definition 1, the watermarked original, with the app's one
watermark. Snapshots use the one template, 10 (JPEG at the source's size).

One call may queue several jobs; its ``TaskId`` joins their ids with ``+`` and
DescribeTaskDetail reads them all back as one procedure (a plain job id works too).
"""

from __future__ import annotations

from livetape.jobs.job_view import JobView
from livetape.library.search import FileQuery
from livetape.library.views import FileView
from livetape.processing.ladder import WATERMARK_DEFINITION
from livetape.tencent import params
from livetape.tencent.context import Backends, Call, Reply, catalogued
from livetape.tencent.dialect_errors import INVALID_PARAMETER_VALUE, DialectError
from livetape.tencent.media_info import (
    SNAPSHOT_DEFINITION,
    iso_z,
    snapshot_items,
    transcode_item,
)
from livetape.tencent.media_info import media_info as full_info

ALIASES = {10: 10, 20: 20, 30: 30, 210: 210, 220: 220, 230: 230,
           100010: 10, 100020: 20, 100030: 30, 100210: 210, 100220: 220, 100230: 230}
SEPARATOR = "+"
MOST_JOBS = 3  # a transcode, a watermark and a snapshot job
FAILED = 70000  # the original's ErrCode family of processing failures
_SUB_STATUS = {"queued": "PROCESSING", "running": "PROCESSING", "done": "SUCCESS",
               "failed": "FAIL"}


def _definition(given: int) -> int:
    if given not in ALIASES:
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.Definition",
                           f"no transcode definition {given}: livetape makes 10, 20, 30 (MP4 "
                           "360p, 720p, 1080p) and 210, 220, 230 (HLS), also named 100010... "
                           "100230")
    return ALIASES[given]


async def process_media(backends: Backends, call: Call, p: params.ProcessMedia) -> Reply:
    task = p.MediaProcessTask
    definitions = sorted({_definition(t.Definition) for t in task.TranscodeTaskSet})
    watermark = any(t.WatermarkSet for t in task.TranscodeTaskSet)
    offsets: set[int] = set()
    for snap in task.SnapshotByTimeOffsetTaskSet:
        if snap.Definition != SNAPSHOT_DEFINITION:
            raise DialectError(f"{INVALID_PARAMETER_VALUE}.Definition",
                               f"no snapshot definition {snap.Definition}: livetape's one "
                               f"template is {SNAPSHOT_DEFINITION} (JPEG, the source's size)")
        offsets.update(round(o) for o in snap.TimeOffsetSet)
    if not definitions and not offsets:
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.MediaProcessTask",
                           "give a TranscodeTaskSet or a SnapshotByTimeOffsetTaskSet with "
                           "TimeOffsetSet")
    job_ids: list[str] = []
    if offsets:  # first: its checks (offsets within the video) are the stricter
        snapshot = await catalogued(lambda: backends.processing.snapshot(
            call.app_id, p.FileId, sorted(offsets), cover=False, width=None))
        job_ids.append(snapshot.job_id)
    if definitions:
        jobs = await catalogued(lambda: backends.processing.convert(
            call.app_id, p.FileId, definitions, watermark=watermark, screenshot=False))
        job_ids[:0] = [job.job_id for job in jobs]
    return {"TaskId": SEPARATOR.join(job_ids)}


def _times(job: JobView) -> Reply:
    times = {"BeginProcessTime": iso_z(job.start_time), "FinishTime": iso_z(job.finish_time)}
    return {k: v for k, v in times.items() if v}


def _state(job: JobView) -> Reply:
    failed = job.state == "failed"
    return {"Status": _SUB_STATUS[job.state], "ErrCode": FAILED if failed else 0,
            "Message": job.error if failed else "SUCCESS" if job.state == "done" else "",
            "Progress": round(job.progress), **_times(job)}


def _results(job: JobView, view: FileView) -> list[Reply]:
    """The original's ``MediaProcessTaskResult`` items of one livetape job."""
    done = job.state == "done"
    if job.kind == "snapshot":
        offsets = [int(o) for o in job.params.get("time_offsets_ms", [])]
        pictures = snapshot_items(view, set(offsets)) if done else []
        result = {**_state(job), "Input": {"Definition": SNAPSHOT_DEFINITION,
                                           "TimeOffsetSet": [float(o) for o in offsets]}}
        if pictures:
            result["Output"] = pictures[0]
        return [{"Type": "SnapshotByTimeOffset", "SnapshotByTimeOffsetTask": result}]
    definitions = ([WATERMARK_DEFINITION] if job.kind == "watermark"
                   else [int(d) for d in job.params.get("definitions", [])])
    items = {item.definition: item for item in view.play_set}
    results = []
    for definition in definitions:
        result = {**_state(job), "Input": {"Definition": definition}}
        if done and definition in items:
            result["Output"] = transcode_item(view, items[definition])
        results.append({"Type": "Transcode", "TranscodeTask": result})
    return results


async def describe_task_detail(backends: Backends, call: Call,
                               p: params.DescribeTaskDetail) -> Reply:
    ids = p.TaskId.split(SEPARATOR)
    if len(ids) > MOST_JOBS:
        raise DialectError("ResourceNotFound.TaskNotExist", f"no task {p.TaskId!r}")
    jobs: list[JobView] = []
    for job_id in ids:
        async def one(job_id: str = job_id) -> JobView:
            return JobView.of(await backends.processing.job(call.app_id, job_id))
        jobs.append(await catalogued(one))
    if len({job.file_id for job in jobs}) != 1:
        raise DialectError("ResourceNotFound.TaskNotExist", f"no task {p.TaskId!r}")
    view = await catalogued(lambda: backends.playback.file(call.app_id, jobs[0].file_id,
                                                           call.request_base))
    states = {job.state for job in jobs}
    status = ("FINISH" if states <= {"done", "failed"} else
              "WAITING" if states == {"queued"} else "PROCESSING")
    original = next((item.url for item in view.play_set if item.definition == 0), "")
    procedure: Reply = {
        "TaskId": p.TaskId, "Status": status, "ErrCode": 0, "Message": "",
        "FileId": view.file_id, "FileName": view.file_name, "FileUrl": original,
        "MetaData": full_info(view, {"metaData"}, {}, call.region, call.app_id)["MetaData"],
        "MediaProcessResultSet": [r for job in jobs for r in _results(job, view)],
    }
    reply: Reply = {"TaskType": "Procedure", "Status": status,
                    "CreateTime": iso_z(min(job.create_time for job in jobs)),
                    "ProcedureTask": procedure}
    begun = [job.start_time for job in jobs if job.start_time]
    if begun:
        reply["BeginProcessTime"] = iso_z(min(begun))
    if status == "FINISH":
        reply["FinishTime"] = iso_z(max(job.finish_time or "" for job in jobs))
    return reply


async def describe_storage_data(backends: Backends, call: Call, p: params.NoParams) -> Reply:
    """What the app stores now (originals and renditions), as the billing meter records it."""
    total, _ = await catalogued(lambda: backends.library.search_range(
        call.app_id, FileQuery(), 0, 1))
    stored = await backends.library.usage.note_storage(call.app_id)
    return {"MediaCount": total, "TotalStorage": stored, "StandardStorage": stored,
            "InfrequentStorage": 0, "ArchiveStorage": 0, "DeepArchiveStorage": 0}
