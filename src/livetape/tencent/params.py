"""The dialect's request bodies: the SDK's request models' fields that livetape acts on.

A field the original knows but livetape cannot honour is refused (``UnknownParameter``)
rather than ignored: an ignored filter would answer the wrong files. Fields that only steer
the original's scheduling (``TasksPriority``, ``SessionContext``...) are taken and ignored.
GET requests carry the same parameters flattened (``Names.0=a&Sort.Field=CreateTime``):
:func:`unflatten` rebuilds them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livetape.bounds import BIGINT_MAX, INT_MAX, TAG_LENGTH
from livetape.tencent.dialect_errors import (
    INVALID_PARAMETER_VALUE,
    MISSING_PARAMETER,
    UNKNOWN_PARAMETER,
    DialectError,
)

FileId = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=TAG_LENGTH)]
ClassId = Annotated[int, Field(ge=0, le=INT_MAX)]
Offset = Annotated[float, Field(ge=0, le=BIGINT_MAX)]


class Params(BaseModel):
    """Every action's body: its fields, and ``SubAppId`` (which must be the app's id)."""

    model_config = ConfigDict(extra="forbid")

    SubAppId: int | None = None


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    After: str | None = None
    Before: str | None = None


class SortBy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Field: Literal["CreateTime"]
    Order: Literal["Asc", "Desc"] = "Desc"


class SearchMedia(Params):
    FileIds: list[FileId] = Field(default_factory=list, max_length=10)
    Names: list[Name] = Field(default_factory=list, max_length=10)
    NamePrefixes: list[Name] = Field(default_factory=list, max_length=10)
    Descriptions: list[Annotated[str, Field(max_length=1000)]] = Field(default_factory=list,
                                                                       max_length=10)
    ClassIds: list[ClassId] = Field(default_factory=list, max_length=10)
    Tags: list[Tag] = Field(default_factory=list, max_length=16)
    TrtcRoomIds: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=10)
    CreateTime: TimeRange | None = None
    Filters: list[str] | None = None
    Sort: SortBy | None = None
    Offset: int = Field(0, ge=0, le=5000)
    Limit: int = Field(10, ge=1, le=5000)


class DescribeMediaInfos(Params):
    FileIds: list[FileId] = Field(min_length=1, max_length=20)
    Filters: list[str] | None = None


class ModifyMediaInfo(Params):
    FileId: FileId
    Name: str | None = None
    Description: str | None = None
    ClassId: int | None = None
    ExpireTime: str | None = None
    AddTags: list[Tag] = Field(default_factory=list)
    DeleteTags: list[Tag] = Field(default_factory=list)
    ClearTags: int | None = Field(None, ge=0, le=1)


class MediaDeleteItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Type: str
    Definition: int | None = None


class DeleteMedia(Params):
    FileId: FileId
    DeleteParts: list[MediaDeleteItem] = Field(default_factory=list)


class WatermarkInput(BaseModel):
    """A transcode's watermark: livetape has one per app (its template's id is not used)."""

    model_config = ConfigDict(extra="ignore")

    Definition: int | None = None


class TranscodeTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Definition: int
    WatermarkSet: list[WatermarkInput] = Field(default_factory=list)


class SnapshotTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Definition: int
    TimeOffsetSet: list[Offset] = Field(default_factory=list)


class MediaProcessTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    TranscodeTaskSet: list[TranscodeTask] = Field(default_factory=list, max_length=10)
    SnapshotByTimeOffsetTaskSet: list[SnapshotTask] = Field(default_factory=list, max_length=10)


class ProcessMedia(Params):
    FileId: FileId
    MediaProcessTask: MediaProcessTask
    # the original's scheduling and notification: taken, not used
    TasksPriority: int | None = None
    TasksNotifyMode: str | None = None
    SessionContext: str | None = None
    SessionId: str | None = None
    ExtInfo: str | None = None


class DescribeTaskDetail(Params):
    TaskId: Annotated[str, Field(min_length=1, max_length=300)]


class CreateClass(Params):
    ParentId: int = Field(ge=-1, le=INT_MAX)
    ClassName: Annotated[str, Field(min_length=1, max_length=64)]


class ModifyClass(Params):
    ClassId: ClassId
    ClassName: Annotated[str, Field(min_length=1, max_length=64)]


class DeleteClass(Params):
    ClassId: ClassId


Reserved = Annotated[str, Field(max_length=1000)]


class PullEvents(Params):
    ExtInfo: Reserved | None = None  # reserved by the original: taken and ignored


class ConfirmEvents(Params):
    EventHandles: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=16)
    ExtInfo: Reserved | None = None


class NoParams(Params):
    """DescribeAllClass, DescribeStorageData."""


P = TypeVar("P", bound=Params)


def parse(model: type[P], params: dict[str, Any]) -> P:
    """``params`` as ``model``; the original's codes for what does not fit (the first
    problem: ``MissingParameter``, ``UnknownParameter``, ``InvalidParameterValue.<Field>``)."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        top = str(first.get("loc", ("",))[0])
        if first["type"] == "missing":
            raise DialectError(MISSING_PARAMETER, f"{where} is required") from exc
        if first["type"] == "extra_forbidden":
            raise DialectError(UNKNOWN_PARAMETER, f"livetape does not support the parameter "
                               f"{where}") from exc
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.{top}",
                           f"{where}: {first.get('msg')}") from exc


def _listed(value: Any) -> Any:
    """Dicts whose keys are all indexes (0, 1, ...) become lists, in index order."""
    if isinstance(value, dict):
        items = {k: _listed(v) for k, v in value.items()}
        if items and all(k.isdigit() and len(k) < 6 for k in items):
            return [items[k] for k in sorted(items, key=int)]
        return items
    return value


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """A GET request's parameters (``Sort.Field=CreateTime``, ``Names.0=a``) as the JSON body
    of the same call."""
    tree: dict[str, Any] = {}
    for key, value in pairs:
        node = tree
        *path, last = key.split(".")
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise DialectError(INVALID_PARAMETER_VALUE, f"{key}: conflicts with {part}")
            node = child
        if isinstance(node.get(last), dict):
            raise DialectError(INVALID_PARAMETER_VALUE, f"{key}: conflicts with {key}.*")
        node[last] = value
    result: dict[str, Any] = _listed(tree)
    return result
