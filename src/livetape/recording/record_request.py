"""The ``POST /v1/record`` body: a pydantic model, and the table of the codes its faults answer.

The body is decoded by the standard ``json`` module and validated by :class:`RecordRequest`
(strict: no value is converted, ``"3"`` is no ``class_id``). Each validation failure is then
mapped to the catalogue code it answers (:data:`FIELD_CODES`): no or an empty body
30000001, a body that is no JSON object or holds a NUL 30000000, a missing or unknown
``operation`` 30000003, a wrong ``src_type`` 30000004, a missing or empty ``file_name`` on
start 30000002, any other wrong field 30000000. When several fields are wrong, the first in
the table decides the code. A stop reads only ``operation``, ``src_type``, ``room_id`` and
``user_id``: the other fields are ignored, whatever they hold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from livetape.bounds import ID_LENGTH, INT_MAX, TAG_LENGTH, nul_in
from livetape.errors import Catalogue, ErrorKind, LivetapeError

STOP_FIELDS = ("operation", "src_type", "room_id", "user_id")
ABSENT = "absent"  # the error type of a required value given as null or ""

# Each field's code, in precedence order (the first wrong field decides): the code for a
# wrong value, and the one for a missing (or null, or empty) value. A fault of the whole body
# (not an object, a NUL anywhere) comes before any field: 30000000.
FIELD_CODES: dict[str, tuple[ErrorKind, ErrorKind]] = {
    "operation": (Catalogue.NO_OPERATION, Catalogue.NO_OPERATION),
    "src_type": (Catalogue.BAD_SRC_TYPE, Catalogue.BAD_SRC_TYPE),
    "room_id": (Catalogue.PARSE_FAILURE, Catalogue.PARSE_FAILURE),
    "user_id": (Catalogue.PARSE_FAILURE, Catalogue.PARSE_FAILURE),
    "file_name": (Catalogue.PARSE_FAILURE, Catalogue.NO_FILE_NAME),
    "record_type": (Catalogue.PARSE_FAILURE, Catalogue.PARSE_FAILURE),
    "class_id": (Catalogue.PARSE_FAILURE, Catalogue.PARSE_FAILURE),
    "tags": (Catalogue.PARSE_FAILURE, Catalogue.PARSE_FAILURE),
    "transcode": (Catalogue.PARSE_FAILURE, Catalogue.PARSE_FAILURE),
    "screenshot": (Catalogue.PARSE_FAILURE, Catalogue.PARSE_FAILURE),
    "watermark": (Catalogue.PARSE_FAILURE, Catalogue.PARSE_FAILURE),
}


EXAMPLE = {
    "operation": "start", "room_id": "class-1", "user_id": "alice", "file_name": "lesson-1",
    "src_type": "camera", "record_type": "video", "class_id": 0, "tags": ["math"],
    "transcode": False, "screenshot": False, "watermark": False,
}


def _required_to_start(schema: dict[str, Any]) -> None:
    """file_name's schema: a name of 1 character or more (the "" standing for a stop's is
    no default a start may take)."""
    schema.pop("default", None)
    schema["minLength"] = 1


class RecordRequest(BaseModel):
    """Start or stop recording one participant's stream. A stop reads only ``operation``,
    ``src_type``, ``room_id`` and ``user_id``."""

    # file_name and tags are limited by the server's settings too (LIVETAPE_MAX_FILE_NAME_
    # LENGTH, LIVETAPE_MAX_TAGS), given as the validation context {"max_name", "max_tags"}

    model_config = ConfigDict(strict=True, frozen=True, title="RecordRequest")

    operation: Literal["start", "stop"]
    src_type: Literal["camera", "screen"] = "camera"
    room_id: str = Field(min_length=1, max_length=ID_LENGTH)
    user_id: str | None = Field(None, min_length=1, max_length=ID_LENGTH,
                                description="server calls only: a user token implies it")
    file_name: str = Field("", validate_default=True, pattern="^[^/]*$",
                           json_schema_extra=_required_to_start,
                           description="start: required, at most "
                           "LIVETAPE_MAX_FILE_NAME_LENGTH characters")
    record_type: Literal["video", "audio"] = "video"
    class_id: int = Field(0, ge=0, le=INT_MAX, description="the library class the files join")
    tags: list[Annotated[str, Field(min_length=1, max_length=TAG_LENGTH)]] = Field(
        default_factory=list, description="at most LIVETAPE_MAX_TAGS")
    transcode: bool = False
    screenshot: bool = False
    watermark: bool = False

    @model_validator(mode="before")
    @classmethod
    def _whole_body(cls, data: Any) -> Any:
        """No NUL anywhere (keys and unknown fields too); a stop reads only its own fields."""
        if not isinstance(data, dict):
            return data  # pydantic refuses it: not an object
        if nul_in(data):
            raise PydanticCustomError("nul", "a NUL character (\\u0000) is not allowed")
        if data.get("operation") == "stop":
            return {k: v for k, v in data.items() if k in STOP_FIELDS}
        return data

    @field_validator("file_name", mode="before")
    @classmethod
    def _named(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("operation") == "stop":
            return ""  # a stop names no file
        if value is None or (isinstance(value, str) and value == ""):
            raise PydanticCustomError(ABSENT, "file_name is required to start a recording")
        return value

    @field_validator("file_name")
    @classmethod
    def _short_name(cls, value: str, info: ValidationInfo) -> str:
        most = (info.context or {}).get("max_name")
        if most is not None and len(value) > most:
            raise PydanticCustomError("too_long", "at most {most} characters without '/'",
                                      {"most": most})
        return value

    @field_validator("tags")
    @classmethod
    def _few_tags(cls, value: list[str], info: ValidationInfo) -> list[str]:
        most = (info.context or {}).get("max_tags")
        if most is not None and len(value) > most:
            raise PydanticCustomError("too_many", "at most {most} tags", {"most": most})
        return value


def _rank(error: ErrorDetails) -> int:
    """Where an error stands in the table: the whole body first, then field by field."""
    loc = error["loc"]
    if not loc:
        return -1
    fields = list(FIELD_CODES)
    return fields.index(str(loc[0])) if loc[0] in FIELD_CODES else len(fields)


def answer(errors: Sequence[ErrorDetails]) -> LivetapeError:
    """The catalogue's error for a failed validation: the table's code of the first fault."""
    first = min(errors, key=_rank)
    loc = first["loc"]
    if not loc or loc[0] not in FIELD_CODES:
        kind, where = Catalogue.PARSE_FAILURE, ""
    else:
        wrong, missing = FIELD_CODES[str(loc[0])]
        kind = missing if first["type"] in ("missing", ABSENT) else wrong
        where = ".".join(str(part) for part in loc)
    detail = f"{where}: {first['msg']}" if where else first["msg"]
    if kind is Catalogue.NO_FILE_NAME:
        return LivetapeError(kind)
    if first["type"] == "model_type":
        detail = "body must be a JSON object"
    elif kind is Catalogue.NO_OPERATION or kind is Catalogue.BAD_SRC_TYPE:
        detail = f"got {first.get('input')!r}" if first["type"] != "missing" else "got None"
    return LivetapeError(kind, detail)


def parse_record_request(raw: bytes, *, max_name: int, max_tags: int) -> RecordRequest:
    """Validate a ``POST /v1/record`` body, raising the table's code for its first fault."""
    if not raw or not raw.strip():
        raise LivetapeError(Catalogue.NO_BODY)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise LivetapeError(Catalogue.PARSE_FAILURE, f"body is not JSON ({exc})") from exc
    try:
        return RecordRequest.model_validate(
            body, context={"max_name": max_name, "max_tags": max_tags})
    except ValidationError as exc:
        raise answer(exc.errors(include_url=False)) from None
