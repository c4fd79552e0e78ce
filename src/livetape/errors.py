"""THE error catalogue: the source document's table, plus livetape's documented extensions.

Every failure a user can see is one of these entries. Code, message, hint and HTTP status
are chosen here and only here; the API turns a :class:`LivetapeError` into
``{"code", "message", "hint"}`` at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_CHECK_FIELDS = "check that the recording request's fields are complete"
_CHECK_ROOM = "check the room was opened, the user ID and room ID, or whether the user already left"
_NODE_VERSION = ("the node runs another or a broken livetape version: check its log, and run the "
                 "same version on every node")
_NATS_RETRY = ("maybe the network: retry; if it goes on, check that the NATS server(s) of "
               "LIVETAPE_NATS_URL run and that this node reaches them")
_BAD_ENTRY = ("a node wrote an entry this version cannot read: run the same livetape version "
              "on every node; see the named node's log")
_SUPPORT = "server-internal error: see the server log; report it if it repeats"


@dataclass(frozen=True)
class ErrorKind:
    """One row of the catalogue."""

    code: int
    name: str
    message: str
    hint: str
    http_status: int
    extension: bool = False  # not in the source document's table


class Catalogue:
    """The rows, by name. Codes below 30000000 and marked ``extension`` are livetape's own."""

    NO_RECORD_PERMISSION = ErrorKind(
        1, "no_record_permission", "no recording permission",
        "mint the user's token with the 'record' privilege; the app needs VOD activated and "
        "recording enabled", 403,
    )
    BALANCE_INSUFFICIENT = ErrorKind(
        2, "balance_insufficient", "the app's VOD balance is insufficient",
        "top up the app's balance: livetape billing topup APP_ID AMOUNT", 402,
    )
    INVALID_PARAMETER = ErrorKind(
        1000, "invalid_parameter", "invalid parameter", "see the message for the field", 400,
        extension=True,
    )
    UNAUTHORIZED = ErrorKind(
        1001, "unauthorized", "authentication failed",
        "send 'Authorization: Bearer <secret_key>' (server) or a valid user token (client)", 401,
        extension=True,
    )
    CONFLICT = ErrorKind(
        1002, "conflict", "the resource already exists or is in use",
        "use another id, or leave/close the existing one first", 409, extension=True,
    )
    SERVER_FULL = ErrorKind(
        1003, "server_full", "this server accepts no more published streams",
        "retry later or on another server; the limit is LIVETAPE_MAX_PUBLICATIONS", 503,
        extension=True,
    )
    PLAY_FORBIDDEN = ErrorKind(
        1004, "play_forbidden", "this play URL is not allowed",
        "get a fresh play URL from play info (signed URLs expire and may limit viewers or "
        "trial length)", 403, extension=True,
    )
    PLAYBACK_SUSPENDED = ErrorKind(
        1005, "playback_suspended",
        "playback suspended: the app's VOD balance has been at or below zero past the grace "
        "period", "top up the app's balance (livetape billing topup APP_ID AMOUNT); files are "
        "kept and play again at once", 403, extension=True,
    )
    PAYLOAD_TOO_LARGE = ErrorKind(
        1006, "payload_too_large", "the request body is too large",
        "send a smaller body; the limits are LIVETAPE_MAX_BODY_BYTES (JSON and forms), "
        "LIVETAPE_MAX_SDP_BYTES (WHIP offers) and LIVETAPE_WATERMARK_MAX_BYTES (the watermark "
        "PNG)", 413, extension=True,
    )
    RANGE_NOT_SATISFIABLE = ErrorKind(
        1007, "range_not_satisfiable", "the requested byte range is not satisfiable",
        "ask for bytes=FIRST-LAST (or -SUFFIX) with FIRST below the size in Content-Range "
        "(bytes */SIZE), or leave Range out for the whole object", 416, extension=True,
    )
    ICE_RESTART_UNSUPPORTED = ErrorKind(
        1010, "ice_restart_unsupported", "ICE restarts are not supported",
        "trickle candidates with the offer's ice-ufrag and ice-pwd; to reconnect, end the WHIP "
        "session (DELETE) and publish again", 422, extension=True,
    )
    PRECONDITION_FAILED = ErrorKind(
        1011, "precondition_failed", "If-Match does not match the WHIP session's ETag",
        "send the ETag of the session's 201 answer in If-Match (or leave If-Match out)", 412,
        extension=True,
    )
    STORAGE_UNAVAILABLE = ErrorKind(
        1012, "storage_unavailable", "the object storage cannot be reached or refuses livetape",
        "retry later; the operator checks LIVETAPE_STORAGE_URL, the store and its credentials "
        "(the server log says which)", 503, extension=True,
    )
    DATABASE_UNAVAILABLE = ErrorKind(
        1013, "database_unavailable", "the database cannot be reached or dropped the connection",
        "retry later; the operator checks LIVETAPE_DATABASE_URL and the database server (the "
        "server log says which)", 503,
        extension=True,
    )
    INTERNAL_ERROR = ErrorKind(
        1500, "internal_error", "internal server error", _SUPPORT, 500, extension=True,
    )
    NOT_FOUND = ErrorKind(
        10008, "not_found", "resource not found", "check the id", 404, extension=True,
    )
    PARSE_FAILURE = ErrorKind(
        30000000, "parse_failure", "recording request could not be parsed", _CHECK_FIELDS, 400,
    )
    NO_BODY = ErrorKind(
        30000001, "no_body", "no recording request body", _CHECK_FIELDS, 400,
    )
    NO_FILE_NAME = ErrorKind(
        30000002, "no_file_name", "no file name field", _CHECK_FIELDS, 400,
    )
    NO_OPERATION = ErrorKind(
        30000003, "no_operation", "no (or unknown) operation field",
        "operation must be 'start' or 'stop'", 400,
    )
    BAD_SRC_TYPE = ErrorKind(
        30000004, "bad_src_type", "wrong video source type",
        "src_type must be 'camera' or 'screen'", 400,
    )
    INTERNAL_PACKING = ErrorKind(
        30000201, "internal_packing", "server-internal packing error", _SUPPORT, 500,
    )
    NODE_UNREACHABLE = ErrorKind(
        30000207, "node_unreachable",
        "recording-server communication: failed to reach the media node of the stream",
        "the node is gone or not joined to the cluster: check that it runs with LIVETAPE_NATS_URL "
        "set, then publish the stream again", 503,
    )
    NODE_TIMEOUT = ErrorKind(
        30000208, "node_timeout",
        "recording-server communication: the media node did not answer in time",
        "maybe the network or a busy node: retry; if it repeats, check the node's log and load "
        "(the wait is LIVETAPE_NODE_TIMEOUT_SECONDS)", 504,
    )
    NODE_REPLY_UNPARSABLE = ErrorKind(
        30000301, "node_reply_unparsable",
        "media node's reply: packet parse failure (not JSON)", _NODE_VERSION, 502,
    )
    NODE_REPLY_MALFORMED = ErrorKind(
        30000302, "node_reply_malformed",
        "media node's reply: packet parse failure (JSON of the wrong shape)", _NODE_VERSION, 502,
    )
    NODE_REPLY_NO_ID = ErrorKind(
        30000303, "node_reply_no_id",
        "media node's reply: no node, recording or publication id returned", _NODE_VERSION, 502,
    )
    NODE_REPLY_NO_ENDPOINT = ErrorKind(
        30000304, "node_reply_no_endpoint",
        "media node's reply: no SDP answer or ETag returned (the node's media address and port)",
        _NODE_VERSION, 502,
    )
    NODE_REPLY_NO_RESULT = ErrorKind(
        30000305, "node_reply_no_result", "media node's reply: no result returned",
        _NODE_VERSION, 502,
    )
    REGISTRY_UNREACHABLE = ErrorKind(
        30000401, "registry_unreachable",
        "room query: the cluster's registry (NATS) cannot be reached", _NATS_RETRY, 503,
    )
    REGISTRY_FAILED = ErrorKind(
        30000402, "registry_failed", "room query: error fetching data from the cluster's "
        "registry (NATS)", _NATS_RETRY, 503,
    )
    REGISTRY_NO_ROOM = ErrorKind(
        30000403, "registry_no_room",
        "room query: the cluster's registry has no node for this room (room does not exist)",
        _CHECK_ROOM, 404,
    )
    REGISTRY_TIMEOUT = ErrorKind(
        30000404, "registry_timeout",
        "room query: the cluster's registry (NATS) did not answer in time", _NATS_RETRY, 504,
    )
    REGISTRY_NOT_PARSEABLE = ErrorKind(
        30000405, "registry_not_parseable",
        "room query reply: a registry entry could not be parsed (not JSON)", _BAD_ENTRY, 502,
    )
    REGISTRY_NOT_OBJECT = ErrorKind(
        30000406, "registry_not_object",
        "room query reply: a registry entry could not be parsed (not a JSON object)",
        _BAD_ENTRY, 502,
    )
    REGISTRY_BAD_FIELD = ErrorKind(
        30000407, "registry_bad_field",
        "room query reply: a registry entry could not be parsed (a field of the wrong type)",
        _BAD_ENTRY, 502,
    )
    REGISTRY_NO_RESULT = ErrorKind(
        30000408, "registry_no_result",
        "room query reply: a registry entry lacks a field it must have", _BAD_ENTRY, 502,
    )
    REGISTRY_WRONG_KEY = ErrorKind(
        30000409, "registry_wrong_key",
        "room query reply: a registry entry could not be parsed (it names another node than "
        "its key)", _BAD_ENTRY, 502,
    )
    ROOM_NOT_FOUND = ErrorKind(
        30000410, "room_not_found", "the room being recorded does not exist", _CHECK_ROOM, 404,
    )
    USER_NOT_IN_ROOM = ErrorKind(
        30000411, "user_not_in_room",
        "the user starting the recording is not in the room or does not publish that source",
        _CHECK_ROOM, 404,
    )
    NOT_RECORDING = ErrorKind(
        30000412, "not_recording", "stop sent again: nothing is being recorded",
        "the recording is already stopped; check for repeated stops", 409,
    )
    ALREADY_ENDED = ErrorKind(
        30000413, "already_ended",
        "stop sent again: the recording already ended by itself (idle, publisher left, crash)",
        "nothing to do: its files are listed in file_ids", 409,
    )
    UNKNOWN_NODE_OPERATION = ErrorKind(
        30000414, "unknown_node_operation",
        "server-internal operation type error: the media node does not know the operation",
        _NODE_VERSION, 502,
    )
    ALREADY_RECORDING = ErrorKind(
        30000415, "already_recording", "start sent again: the user is already recording",
        "stop the running recording first", 409,
    )
    PAIR_ROOM = ErrorKind(
        30000416, "pair_room", "two-person rooms do not support recording",
        "create the room with type 'multi' to record it", 409, extension=True,
    )

    @classmethod
    def rows(cls) -> list[ErrorKind]:
        """Every entry, ordered by code (the README's table is generated from this)."""
        kinds = [v for v in vars(cls).values() if isinstance(v, ErrorKind)]
        return sorted(kinds, key=lambda k: k.code)


class LivetapeError(Exception):
    """A catalogued failure, with an optional specific message and extra body fields."""

    def __init__(
        self, kind: ErrorKind, detail: str | None = None, *, hint: str | None = None,
        headers: dict[str, str] | None = None, **extra: Any,
    ) -> None:
        self.kind = kind
        self.detail = detail
        self.hint = hint or kind.hint  # a more specific hint than the row's, when known
        self.headers = headers or {}  # response headers the status calls for (Content-Range)
        self.extra = extra
        super().__init__(f"{kind.code} {kind.name}: {detail or kind.message}")

    @property
    def code(self) -> int:
        return self.kind.code

    def body(self) -> dict[str, Any]:
        """The JSON body every error response carries."""
        message = self.kind.message if not self.detail else f"{self.kind.message}: {self.detail}"
        return {"code": self.kind.code, "message": message, "hint": self.hint, **self.extra}
