"""The media node protocol's JSON: each operation's request and answer, the reply envelope,
and how a reply that is not what the call expects becomes one of the catalogue's codes.

A request is the operation's model as JSON (:data:`OPERATIONS`). A reply is an object with
exactly one key: ``{"ok": <the answer>}`` or ``{"error": <NodeFailure>}``. Reading a reply:

- not JSON (or not UTF-8): 30000301;
- JSON of the wrong shape (not an object, other keys than one of ``ok``/``error``, a value of
  the wrong type, a field the answer does not have): 30000302;
- an answer lacking a field it must have, by the field's family: the ids that say what and
  where the answer is about (``node_id``, ``recording_id``, ``publication_id``, ``app_id``,
  ``room_id``, ``user_id``, ``src_type``): 30000303; the media endpoint a publisher is sent
  to (``answer_sdp``, which carries the node's ICE addresses and ports, and ``etag``):
  30000304; the result itself (no ``ok``, a null answer, or any other field): 30000305.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, NoReturn

from pydantic import TypeAdapter, ValidationError

from livetape.errors import Catalogue, ErrorKind, LivetapeError
from livetape.medianode.failure import NodeFailure
from livetape.medianode.interface import (
    LiveStream,
    Message,
    NodeTotals,
    PublishAnswer,
    PublishOffer,
    RecorderStart,
    RecorderStarted,
    RecorderStats,
    RecorderStopped,
    TrickleRequest,
)

_ID_FIELDS = frozenset({"node_id", "recording_id", "publication_id", "app_id", "room_id",
                        "user_id", "src_type"})
_ENDPOINT_FIELDS = frozenset({"answer_sdp", "etag"})


class UnpublishRequest(Message):
    app_id: str
    room_id: str
    publication_id: str
    user_id: str | None


class RoomRequest(Message):
    app_id: str
    room_id: str


class StreamsRequest(Message):
    app_id: str
    room_id: str | None = None


class StopRequest(Message):
    recording_id: str
    reason: str = "stopped"


class StatsRequest(Message):
    recording_id: str


class TotalsRequest(Message):
    """What the node took in and wrote since it started (its metrics): no fields."""


class NodeEvent(Message):
    """A recording's event, node to control plane: ``seq`` counts a service run's events (its
    ``epoch``) in the order they happened, so a control plane drops one it already took."""

    epoch: str
    seq: int
    kind: Literal["segment_opened", "segment_closed", "recording_ended"]
    recording_id: str
    segment: int | None = None
    part: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Operation:
    name: str
    request: type[Message]
    answer: TypeAdapter[Any]
    read_only: bool = False  # retried after a timeout


def _operations() -> MappingProxyType[str, Operation]:
    table = [
        Operation("publish", PublishOffer, TypeAdapter(PublishAnswer)),
        Operation("trickle", TrickleRequest, TypeAdapter(int)),
        Operation("unpublish", UnpublishRequest, TypeAdapter(None)),
        Operation("close_room", RoomRequest, TypeAdapter(None)),
        Operation("streams", StreamsRequest, TypeAdapter(list[LiveStream]), read_only=True),
        Operation("start_recording", RecorderStart, TypeAdapter(RecorderStarted)),
        Operation("stop_recording", StopRequest, TypeAdapter(RecorderStopped)),
        Operation("recording_stats", StatsRequest, TypeAdapter(RecorderStats | None),
                  read_only=True),
        Operation("totals", TotalsRequest, TypeAdapter(NodeTotals), read_only=True),
    ]
    return MappingProxyType({op.name: op for op in table})


OPERATIONS = _operations()


def ok_reply(operation: Operation, answer: Any) -> dict[str, Any]:
    return {"ok": operation.answer.dump_python(answer, mode="json")}


def error_reply(error: LivetapeError) -> dict[str, Any]:
    return {"error": NodeFailure.of(error).model_dump(mode="json")}


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _hint(kind: ErrorKind, node_id: str) -> str:
    return f"node {node_id!r}: {kind.hint}"


def _bad(kind: ErrorKind, node_id: str, operation: str, what: str) -> NoReturn:
    raise LivetapeError(kind, f"node {node_id!r} answered {operation}: {what}",
                        hint=_hint(kind, node_id))


def _family(field: str) -> ErrorKind:
    if field in _ID_FIELDS:
        return Catalogue.NODE_REPLY_NO_ID
    if field in _ENDPOINT_FIELDS:
        return Catalogue.NODE_REPLY_NO_ENDPOINT
    return Catalogue.NODE_REPLY_NO_RESULT


def _validated(adapter: TypeAdapter[Any], value: Any, node_id: str, operation: str) -> Any:
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError as exc:
        errors = exc.errors()
        missing = [str(e["loc"][-1]) for e in errors if e["type"] == "missing"]
        if missing:
            _bad(_family(missing[0]), node_id, operation, f"no {', '.join(missing)}")
        if value is None:
            _bad(Catalogue.NODE_REPLY_NO_RESULT, node_id, operation, "a null answer")
        where = ".".join(str(part) for part in errors[0]["loc"]) or "the answer"
        _bad(Catalogue.NODE_REPLY_MALFORMED, node_id, operation,
             f"{where}: {errors[0]['msg']}")


def read_reply(data: bytes, operation: Operation, node_id: str) -> Any:
    """The answer in a node's reply; the node's refusal raised as its catalogue error."""
    try:
        body = json.loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        _bad(Catalogue.NODE_REPLY_UNPARSABLE, node_id, operation.name,
             f"{exc} (the reply begins {data[:40]!r})")
    if not isinstance(body, dict) or not set(body) <= {"ok", "error"} or len(body) > 1:
        shown = sorted(body) if isinstance(body, dict) else type(body).__name__
        _bad(Catalogue.NODE_REPLY_MALFORMED, node_id, operation.name,
             f"expected one of 'ok' or 'error', got {shown}")
    if "error" in body:
        failure = _validated(TypeAdapter(NodeFailure), body["error"], node_id, operation.name)
        raise failure.error()
    if "ok" not in body:
        _bad(Catalogue.NODE_REPLY_NO_RESULT, node_id, operation.name, "no 'ok' or 'error'")
    return _validated(operation.answer, body["ok"], node_id, operation.name)
