"""PullEvents and ConfirmEvents on livetape's event log (the queue of
:class:`livetape.webhooks.pull_queue.PullQueue`: a pulled event not confirmed within
``LIVETAPE_EVENTS_PULL_LEASE_SECONDS``, 30, is pulled again under a new handle).

Which events, in the original's shapes (only fields the SDK's models know):

- ``file.ready`` -> ``NewFileUpload`` (``FileUploadEvent``: the file's ``MediaBasicInfo`` and
  ``MetaData`` as DescribeMediaInfos gives them; from the event itself when the file was
  deleted since);
- ``job.finished`` -> ``ProcedureStateChanged`` (``ProcedureStateChangeEvent``: the job's
  procedure as DescribeTaskDetail gives it, ``TaskId`` the job's id);
- ``file.deleted`` and ``file.expired`` -> ``FileDeleted`` (``FileDeleteEvent``).

Recording events have no counterpart in the original's VOD API: webhooks and the feed carry
them.
"""

from __future__ import annotations

from typing import Any

from livetape.errors import LivetapeError
from livetape.tencent import params
from livetape.tencent.class_actions import class_names
from livetape.tencent.context import Backends, Call, Reply
from livetape.tencent.dialect_errors import INVALID_PARAMETER_VALUE, DialectError
from livetape.tencent.media_info import media_info
from livetape.tencent.task_actions import describe_task_detail
from livetape.webhooks.render import EventBody

TYPES = {"file.ready": "NewFileUpload", "job.finished": "ProcedureStateChanged",
         "file.deleted": "FileDeleted", "file.expired": "FileDeleted"}
MOST = 16  # the original's most events per pull


async def _uploaded(backends: Backends, call: Call, data: dict[str, Any]) -> Reply:
    try:
        view = await backends.playback.file(call.app_id, data["file_id"], call.request_base)
    except LivetapeError:  # deleted since: what the event itself says
        urls = [item["url"] for item in data.get("play_set", []) if "url" in item]
        return {"FileId": data["file_id"], "ProcedureTaskId": "",
                "MediaBasicInfo": {"Name": data["file_name"], "MediaUrl": urls[0] if urls
                                   else "", "Type": "mp4", "Status": "Normal"},
                "MetaData": {"Size": data["size"], "Duration": data["duration"],
                             "Container": "mp4", "Bitrate": data.get("bitrate", 0),
                             "Width": data.get("width", 0), "Height": data.get("height", 0)}}
    names = await class_names(backends, call.app_id)
    info = media_info(view, {"basicInfo", "metaData"}, names, call.region, call.app_id)
    return {"FileId": view.file_id, "MediaBasicInfo": info["BasicInfo"],
            "ProcedureTaskId": "", "MetaData": info["MetaData"]}


async def _procedure(backends: Backends, call: Call, data: dict[str, Any]) -> Reply:
    try:
        detail = await describe_task_detail(backends, call,
                                            params.DescribeTaskDetail(TaskId=data["job_id"]))
        procedure: Reply = detail["ProcedureTask"]
        return procedure
    except DialectError:  # the file was deleted since: what the event itself says
        failed = data["state"] == "failed"
        return {"TaskId": data["job_id"], "Status": "FINISH", "ErrCode": 70000 if failed else 0,
                "Message": data["error"] if failed else "SUCCESS", "FileId": data["file_id"],
                "FileName": data.get("file_name") or ""}


async def _content(backends: Backends, call: Call, handle: str, body: EventBody) -> Reply:
    kind = TYPES[body.type]
    item: Reply = {"EventHandle": handle, "EventType": kind}
    if kind == "NewFileUpload":
        item["FileUploadEvent"] = await _uploaded(backends, call, body.data)
    elif kind == "ProcedureStateChanged":
        item["ProcedureStateChangeEvent"] = await _procedure(backends, call, body.data)
    else:
        file_id = body.data["file_id"]
        item["FileDeleteEvent"] = {"FileIdSet": [file_id], "FileDeleteResultInfo": [
            {"FileId": file_id, "DeleteParts": []}]}
    return item


async def pull_events(backends: Backends, call: Call, p: params.PullEvents) -> Reply:
    pulled = await backends.webhooks.pull(call.app_id, list(TYPES), MOST, call.request_base)
    return {"EventSet": [await _content(backends, call, handle, body)
                         for handle, body in pulled]}


async def confirm_events(backends: Backends, call: Call, p: params.ConfirmEvents) -> Reply:
    stale = await backends.webhooks.confirm(call.app_id, list(dict.fromkeys(p.EventHandles)))
    if stale:
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.EventHandles",
                           f"{len(stale)} event handle(s) unknown or older than their "
                           f"{backends.webhooks.pull_lease_seconds:g} s (their events are "
                           f"pulled again; the others are confirmed): {stale[:4]}")
    return {}
