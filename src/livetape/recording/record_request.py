"""Parses a start/stop recording request body into the table's error codes.

Done by hand rather than by a schema validator because each missing or wrong field maps to
its own code (no body 30000001, unparseable 30000000, no operation 30000003, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from livetape.bounds import ID_LENGTH, INT_MAX, TAG_LENGTH, nul_in
from livetape.errors import Catalogue, LivetapeError

OPERATIONS = ("start", "stop")
SRC_TYPES = ("camera", "screen")
RECORD_TYPES = ("video", "audio")


@dataclass(frozen=True)
class RecordRequest:
    operation: str
    room_id: str
    src_type: str = "camera"
    user_id: str | None = None
    file_name: str = ""
    record_type: str = "video"
    class_id: int = 0
    tags: list[str] = field(default_factory=list)
    transcode: bool = False
    screenshot: bool = False
    watermark: bool = False


def _bad(detail: str) -> LivetapeError:
    return LivetapeError(Catalogue.PARSE_FAILURE, detail)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _bad(f"{name} must be true or false")
    return value


def parse_record_request(raw: bytes, *, max_name: int, max_tags: int) -> RecordRequest:
    """Validate a ``POST /v1/record`` body, raising the table's code for each fault."""
    if not raw or not raw.strip():
        raise LivetapeError(Catalogue.NO_BODY)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise _bad(f"body is not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    if nul_in(body):
        raise _bad("a NUL character (\\u0000) is not allowed")
    operation = body.get("operation")
    if operation not in OPERATIONS:
        raise LivetapeError(Catalogue.NO_OPERATION, f"got {operation!r}")
    src_type = body.get("src_type", "camera")
    if src_type not in SRC_TYPES:
        raise LivetapeError(Catalogue.BAD_SRC_TYPE, f"got {src_type!r}")
    room_id = body.get("room_id")
    if not isinstance(room_id, str) or not 0 < len(room_id) <= ID_LENGTH:
        raise _bad(f"room_id is required: 1-{ID_LENGTH} characters")
    user_id = body.get("user_id")
    if user_id is not None and (not isinstance(user_id, str) or not 0 < len(user_id) <= ID_LENGTH):
        raise _bad(f"user_id must be a string of 1-{ID_LENGTH} characters")
    if operation == "stop":
        return RecordRequest("stop", room_id, src_type, user_id)
    file_name = body.get("file_name")
    if file_name is None or file_name == "":
        raise LivetapeError(Catalogue.NO_FILE_NAME)
    if not isinstance(file_name, str) or len(file_name) > max_name or "/" in file_name:
        raise _bad(f"file_name must be a string of at most {max_name} characters without '/'")
    record_type = body.get("record_type", "video")
    if record_type not in RECORD_TYPES:
        raise _bad(f"record_type must be one of {RECORD_TYPES}, got {record_type!r}")
    class_id = body.get("class_id", 0)
    if not isinstance(class_id, int) or isinstance(class_id, bool) or not 0 <= class_id <= INT_MAX:
        raise _bad(f"class_id must be an integer from 0 to {INT_MAX}")
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and 0 < len(t) <= TAG_LENGTH for t in tags
    ):
        raise _bad(f"tags must be a list of strings of 1-{TAG_LENGTH} characters")
    if len(tags) > max_tags:
        raise _bad(f"at most {max_tags} tags")
    return RecordRequest(
        "start", room_id, src_type, user_id, file_name, record_type, class_id, tags,
        _flag(body, "transcode"), _flag(body, "screenshot"), _flag(body, "watermark"),
    )
