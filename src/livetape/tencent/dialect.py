"""The original's VOD API 3.0 (``POST /`` with ``X-TC-Action``), spoken on livetape's own
host and port so that the unmodified official SDK works with an app's ``app_id`` and secret
key as its SecretId and SecretKey.

:meth:`TencentDialect.answer` takes a request as received, verifies its TC3-HMAC-SHA256
signature (:mod:`livetape.tencent.signature`), parses its parameters (the JSON body, or the
flattened query of a GET) into the action's model and calls the action, which calls the
services the REST API uses. The answer is always ``{"Response": {..., "RequestId"}}``,
errors included (HTTP 200: the SDK reads errors only so).

PullEvents and ConfirmEvents (the event feed) are not served yet: they answer
``UnsupportedOperation`` like any other action livetape does not have.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from livetape.bounds import nul_in
from livetape.tencent import class_actions, event_actions, media_actions, params, task_actions
from livetape.tencent.context import Backends, Call, Reply
from livetape.tencent.dialect_errors import (
    INTERNAL_ERROR,
    INVALID_PARAMETER,
    INVALID_PARAMETER_VALUE,
    MISSING_PARAMETER,
    NO_SUCH_VERSION,
    UNSUPPORTED_OPERATION,
    DialectError,
    error_body,
)
from livetape.tencent.signature import SignedRequest, verify

log = logging.getLogger(__name__)

VERSION = "2018-07-17"
Handler = Callable[[Backends, Call, Any], Awaitable[Reply]]


@dataclass(frozen=True)
class Action:
    model: type[params.Params]
    run: Handler


ACTIONS: Mapping[str, Action] = {
    "SearchMedia": Action(params.SearchMedia, media_actions.search_media),
    "DescribeMediaInfos": Action(params.DescribeMediaInfos, media_actions.describe_media_infos),
    "ModifyMediaInfo": Action(params.ModifyMediaInfo, media_actions.modify_media_info),
    "DeleteMedia": Action(params.DeleteMedia, media_actions.delete_media),
    "ProcessMedia": Action(params.ProcessMedia, task_actions.process_media),
    "DescribeTaskDetail": Action(params.DescribeTaskDetail, task_actions.describe_task_detail),
    "DescribeStorageData": Action(params.NoParams, task_actions.describe_storage_data),
    "CreateClass": Action(params.CreateClass, class_actions.create_class),
    "DescribeAllClass": Action(params.NoParams, class_actions.describe_all_class),
    "ModifyClass": Action(params.ModifyClass, class_actions.modify_class),
    "DeleteClass": Action(params.DeleteClass, class_actions.delete_class),
    "PullEvents": Action(params.PullEvents, event_actions.pull_events),
    "ConfirmEvents": Action(params.ConfirmEvents, event_actions.confirm_events),
}


@dataclass(frozen=True)
class Received:
    """A request as it arrived: nothing re-encoded."""

    method: str
    headers: Mapping[str, str]  # lowercase names
    query: str
    body: bytes
    request_base: str  # where play URLs point unless LIVETAPE_PUBLIC_URL says otherwise


def _parameters(received: Received) -> dict[str, Any]:
    if received.method == "GET":
        return params.unflatten(parse_qsl(received.query, keep_blank_values=True))
    try:
        parsed = json.loads(received.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DialectError(INVALID_PARAMETER, "the body is not JSON (send "
                           "Content-Type: application/json and a JSON object)") from exc
    if not isinstance(parsed, dict):
        raise DialectError(INVALID_PARAMETER, "the body must be a JSON object")
    return parsed


class TencentDialect:
    """Answers the original's API 3.0 for livetape's apps."""

    def __init__(self, backends: Backends) -> None:
        self._backends = backends

    async def _secrets(self, app_id: str) -> list[str]:
        app = await self._backends.apps.get(app_id) if len(app_id) <= 64 else None
        return await self._backends.apps.keys.secrets_of(app) if app is not None else []

    async def answer(self, received: Received, request_id: str) -> dict[str, Any]:
        """The ``{"Response": ...}`` body for ``received`` (an error's, when it fails)."""
        try:
            reply = await self._call(received)
        except DialectError as exc:
            return error_body(exc.code, exc.message, request_id)
        except Exception as exc:  # livetape's fault: logged; the SDK still reads an error
            log.exception("tencent dialect: %s", received.headers.get("x-tc-action"))
            return error_body(INTERNAL_ERROR, f"internal error ({type(exc).__name__}): see "
                              "the server log", request_id)
        return {"Response": {**reply, "RequestId": request_id}}

    async def _call(self, received: Received) -> Reply:
        signed = SignedRequest(received.method, received.query, received.headers,
                               received.body)
        app_id = await verify(signed, self._secrets, time.time())
        name = received.headers.get("x-tc-action", "")
        if not name:
            raise DialectError(MISSING_PARAMETER, "the X-TC-Action header is missing")
        version = received.headers.get("x-tc-version", "")
        if version != VERSION:
            raise DialectError(NO_SUCH_VERSION, f"X-TC-Version {version!r}: livetape speaks "
                               f"the VOD API {VERSION}")
        action = ACTIONS.get(name)
        if action is None:
            raise DialectError(UNSUPPORTED_OPERATION, f"livetape does not support the "
                               f"action {name[:64]!r}; it supports {sorted(ACTIONS)}")
        given = _parameters(received)
        if nul_in(given):
            raise DialectError(INVALID_PARAMETER_VALUE, "a NUL character (\\u0000) is not "
                               "allowed")
        parsed = params.parse(action.model, given)
        call = Call(app_id, received.headers.get("x-tc-region", ""), received.request_base)
        call.check_sub_app(parsed.SubAppId)
        return await action.run(self._backends, call, parsed)
