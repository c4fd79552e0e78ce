"""The ``POST /v1/record`` body: each row of the field-to-code table, its precedence when
several fields are wrong, and the server's limits (file name length, tag count)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from livetape.errors import Catalogue, ErrorKind, LivetapeError
from livetape.recording.record_request import (
    FIELD_CODES,
    RecordRequest,
    parse_record_request,
)

START = {"operation": "start", "room_id": "room-1", "user_id": "alice", "file_name": "f"}
STOP = {"operation": "stop", "room_id": "room-1", "user_id": "alice"}
PARSE, NO_BODY = Catalogue.PARSE_FAILURE, Catalogue.NO_BODY
NO_NAME, NO_OP, SRC = Catalogue.NO_FILE_NAME, Catalogue.NO_OPERATION, Catalogue.BAD_SRC_TYPE


def parse(body: Any, *, max_name: int = 40, max_tags: int = 3) -> RecordRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_record_request(raw, max_name=max_name, max_tags=max_tags)


def refused(body: Any, **limits: int) -> LivetapeError:
    with pytest.raises(LivetapeError) as caught:
        parse(body, **limits)
    return caught.value


def without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def test_a_start_with_every_field() -> None:
    body = {**START, "src_type": "screen", "record_type": "audio", "class_id": 7,
            "tags": ["a", "b"], "transcode": True, "screenshot": True, "watermark": True}
    parsed = parse(body)
    assert parsed.model_dump() == {**body}


def test_defaults() -> None:
    parsed = parse(without(START, "user_id"))
    assert (parsed.src_type, parsed.user_id, parsed.record_type, parsed.class_id) == (
        "camera", None, "video", 0)
    assert (parsed.tags, parsed.transcode, parsed.screenshot, parsed.watermark) == (
        [], False, False, False)


def test_a_stop_reads_only_its_fields() -> None:
    """A stop ignores the start's fields, whatever they hold (today's behaviour)."""
    parsed = parse({**STOP, "file_name": 5, "tags": "x", "class_id": "three",
                    "transcode": "yes", "record_type": "film"})
    assert (parsed.operation, parsed.room_id, parsed.user_id, parsed.src_type) == (
        "stop", "room-1", "alice", "camera")
    assert parsed.file_name == "" and parsed.tags == []
    assert refused({**STOP, "src_type": "desktop"}).kind is SRC  # but reads src_type


@pytest.mark.parametrize(("raw", "kind"), [
    (b"", NO_BODY), (b"   \n", NO_BODY),
    (b"{not json", PARSE), (b"[1, 2]", PARSE), (b'"start"', PARSE), (b"null", PARSE),
    (b"\xff\xfe{", PARSE), (b"[" * 100_000, PARSE),
])
def test_the_body(raw: bytes, kind: ErrorKind) -> None:
    assert refused(raw).kind is kind


@pytest.mark.parametrize(("body", "kind"), [
    # operation: 30000003
    (without(START, "operation"), NO_OP), ({**START, "operation": "pause"}, NO_OP),
    ({**START, "operation": None}, NO_OP), ({**START, "operation": ["start"]}, NO_OP),
    ({**START, "operation": "START"}, NO_OP),
    # src_type: 30000004
    ({**START, "src_type": "desktop"}, SRC), ({**START, "src_type": None}, SRC),
    ({**START, "src_type": 1}, SRC),
    # room_id, user_id: 30000000
    (without(START, "room_id"), PARSE), ({**START, "room_id": ""}, PARSE),
    ({**START, "room_id": "r" * 65}, PARSE), ({**START, "room_id": 5}, PARSE),
    ({**START, "user_id": ""}, PARSE), ({**START, "user_id": "u" * 65}, PARSE),
    ({**START, "user_id": 5}, PARSE),
    # file_name: 30000002 when missing, null or empty; 30000000 when wrong
    (without(START, "file_name"), NO_NAME), ({**START, "file_name": None}, NO_NAME),
    ({**START, "file_name": ""}, NO_NAME), ({**START, "file_name": "a/b"}, PARSE),
    ({**START, "file_name": 5}, PARSE), ({**START, "file_name": False}, PARSE),
    ({**START, "file_name": "x" * 41}, PARSE),
    # the rest: 30000000, no value converted
    ({**START, "record_type": "film"}, PARSE), ({**START, "record_type": None}, PARSE),
    ({**START, "class_id": "3"}, PARSE), ({**START, "class_id": True}, PARSE),
    ({**START, "class_id": 1.0}, PARSE), ({**START, "class_id": -1}, PARSE),
    ({**START, "class_id": 2**31}, PARSE), ({**START, "class_id": None}, PARSE),
    ({**START, "tags": "math"}, PARSE), ({**START, "tags": [""]}, PARSE),
    ({**START, "tags": ["t" * 65]}, PARSE), ({**START, "tags": [1]}, PARSE),
    ({**START, "transcode": "yes"}, PARSE), ({**START, "screenshot": 1}, PARSE),
    ({**START, "watermark": None}, PARSE),
    # a NUL anywhere, unknown fields included
    ({**START, "file_name": "a\x00b"}, PARSE), ({**START, "extra": ["\x00"]}, PARSE),
    ({**START, "\x00": 1}, PARSE),
])
def test_each_row_of_the_table(body: dict[str, Any], kind: ErrorKind) -> None:
    error = refused(body)
    assert error.kind is kind, error.body()


def test_the_table_covers_every_field() -> None:
    assert list(FIELD_CODES) == list(RecordRequest.model_fields)


@pytest.mark.parametrize(("body", "kind"), [
    # a fault of the whole body (a NUL) before any field
    ({**START, "operation": "pause", "note": "\x00"}, PARSE),
    # operation, then src_type, then room_id, then user_id, then file_name, ...
    ({**START, "operation": "pause", "src_type": "desktop"}, NO_OP),
    ({**START, "src_type": "desktop", "room_id": ""}, SRC),
    ({**START, "src_type": "desktop", "file_name": None}, SRC),
    ({**START, "room_id": "", "file_name": None}, PARSE),
    ({**START, "user_id": "", "file_name": None}, PARSE),
    ({**without(START, "file_name"), "record_type": "film", "tags": "x"}, NO_NAME),
    ({**START, "operation": None, "file_name": None}, NO_OP),
])
def test_precedence(body: dict[str, Any], kind: ErrorKind) -> None:
    assert refused(body).kind is kind


def test_the_server_limits() -> None:
    assert parse({**START, "file_name": "x" * 40}).file_name == "x" * 40
    long = refused({**START, "file_name": "x" * 11}, max_name=10)
    assert long.kind is PARSE and "10" in long.body()["message"]
    assert parse({**START, "tags": ["a", "b", "c"]}).tags == ["a", "b", "c"]
    many = refused({**START, "tags": ["a", "b", "c"]}, max_tags=2)
    assert many.kind is PARSE and "at most 2 tags" in many.body()["message"]
    assert parse({**START, "tags": []}, max_tags=0).tags == []


def test_messages_say_what_was_wrong() -> None:
    assert refused({**START, "operation": "pause"}).body()["message"].endswith("got 'pause'")
    assert "room_id" in refused({**START, "room_id": ""}).body()["message"]
    assert refused(without(START, "file_name")).body()["message"] == NO_NAME.message
    assert "JSON object" in refused(b"[1]").body()["message"]
