"""SearchMedia, DescribeMediaInfos, ModifyMediaInfo, DeleteMedia on livetape's library.

Each one calls what the REST API's routes call (the library's search, the playback service's
views, modify and delete), so play URLs are signed, names and tags checked, and objects
deleted exactly as there.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from livetape.db.models import VodFile
from livetape.library.file_changes import FileUpdate
from livetape.library.search import FileQuery
from livetape.library.views import FileView
from livetape.tencent import params
from livetape.tencent.class_actions import class_names
from livetape.tencent.context import Backends, Call, Reply, catalogued
from livetape.tencent.dialect_errors import INVALID_PARAMETER_VALUE, DialectError
from livetape.tencent.media_info import NEVER, filters, media_info

# ModifyMediaInfo's fields by livetape's names (for the errors of the shared checks)
_FIELDS = {"file_name": "Name", "description": "Description", "class_id": "ClassId",
           "tags": "AddTags", "expire_time": "ExpireTime"}


def _time(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.{name}",
                           f"{name}: {value!r} is not an ISO 8601 time") from exc
    if when.tzinfo is None:
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.{name}",
                           f"{name}: {value!r} has no time zone (write ...Z)")
    try:
        return when.astimezone(UTC)
    except OverflowError as exc:  # before year 1 or after 9999 once in UTC
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.{name}",
                           f"{name}: {value!r} is out of range in UTC") from exc


async def _infos(backends: Backends, call: Call, rows: list[VodFile],
                 wanted: list[str] | None) -> list[Reply]:
    parts = filters(wanted)
    views: list[FileView] = await backends.playback.views(call.app_id, rows, call.request_base)
    names = await class_names(backends, call.app_id) if "basicInfo" in parts else {}
    return [media_info(view, parts, names, call.region, call.app_id) for view in views]


async def search_media(backends: Backends, call: Call, p: params.SearchMedia) -> Reply:
    if p.Offset + p.Limit > 5000:
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.Limit",
                           "Offset + Limit must be at most 5000")
    created = p.CreateTime or params.TimeRange()
    query = FileQuery(
        file_ids=p.FileIds, names=p.Names, name_prefixes=p.NamePrefixes,
        descriptions=p.Descriptions, class_ids=p.ClassIds, any_tags=p.Tags,
        room_ids=p.TrtcRoomIds, created_from=_time(created.After, "CreateTime"),
        created_to=_time(created.Before, "CreateTime"),
        descending=p.Sort is None or p.Sort.Order == "Desc")
    total, rows = await catalogued(
        lambda: backends.library.search_range(call.app_id, query, p.Offset, p.Limit))
    return {"TotalCount": total,
            "MediaInfoSet": await _infos(backends, call, rows, p.Filters)}


async def describe_media_infos(backends: Backends, call: Call,
                               p: params.DescribeMediaInfos) -> Reply:
    wanted = list(dict.fromkeys(p.FileIds))
    _, rows = await catalogued(lambda: backends.library.search_range(
        call.app_id, FileQuery(file_ids=wanted), 0, len(wanted)))
    by_id = {row.file_id: row for row in rows}
    found = [by_id[file_id] for file_id in wanted if file_id in by_id]
    return {"MediaInfoSet": await _infos(backends, call, found, p.Filters),
            "NotExistFileIdSet": [file_id for file_id in wanted if file_id not in by_id]}


async def _tags(backends: Backends, call: Call, p: params.ModifyMediaInfo) -> list[str] | None:
    """The file's tags after AddTags, DeleteTags and ClearTags (None: unchanged)."""
    if not (p.AddTags or p.DeleteTags or p.ClearTags):
        return None
    row = await catalogued(lambda: backends.library.get(call.app_id, p.FileId))
    kept = [] if p.ClearTags else [t for t in row.tags if t not in set(p.DeleteTags)]
    return list(dict.fromkeys([*kept, *p.AddTags]))


async def modify_media_info(backends: Backends, call: Call,
                            p: params.ModifyMediaInfo) -> Reply:
    changes: dict[str, object] = {}
    for field, value in (("file_name", p.Name), ("description", p.Description),
                         ("class_id", p.ClassId)):
        if value is not None:
            changes[field] = value
    if p.ExpireTime is not None:
        changes["expire_time"] = -1 if p.ExpireTime in (NEVER, "") else p.ExpireTime
    tags = await _tags(backends, call, p)
    if tags is not None:
        changes["tags"] = tags
    try:
        update = FileUpdate.model_validate(changes)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _FIELDS.get(str(first.get("loc", ("",))[0]), "FileId")
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.{name}",
                           f"{name}: {first.get('msg')}") from exc
    await catalogued(lambda: backends.playback.modify(call.app_id, p.FileId, update,
                                                      call.request_base))
    return {}


async def delete_media(backends: Backends, call: Call, p: params.DeleteMedia) -> Reply:
    if p.DeleteParts:
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.DeleteParts",
                           "livetape deletes a whole file (the original, its renditions and "
                           "images): leave DeleteParts out")
    await catalogued(lambda: backends.playback.delete(call.app_id, p.FileId))
    return {}
