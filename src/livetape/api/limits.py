"""Request body limits: one ASGI middleware in front of every route.

A body larger than its route's limit answers 413 with code 1006 and is never read whole: at
once when ``Content-Length`` says so (nothing is read), else as soon as a streamed (chunked)
body passes the limit (nothing more is read). Every route has the JSON limit
(``LIVETAPE_MAX_BODY_BYTES``) unless the table given to the middleware names another for it
(WHIP offers: ``LIVETAPE_MAX_SDP_BYTES``; the watermark PNG: ``LIVETAPE_WATERMARK_MAX_BYTES``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livetape.errors import Catalogue, LivetapeError


@dataclass(frozen=True)
class Limit:
    """The most bytes a body may have, and the setting that says so (named in the hint)."""

    bytes: int
    setting: str

    def error(self) -> LivetapeError:
        return LivetapeError(Catalogue.PAYLOAD_TOO_LARGE,
                             f"more than {self.bytes} bytes",
                             hint=f"send at most {self.bytes} bytes (LIVETAPE_{self.setting})")


class BodyTooLarge(StarletteHTTPException):
    """Raised by ``receive`` once a streamed body passes its limit. An HTTPException, so that
    FastAPI's body parsing passes it on instead of calling it a malformed body."""

    def __init__(self, limit: Limit) -> None:
        super().__init__(413, f"more than {limit.bytes} bytes")
        self.error = limit.error()


async def too_large(_: Request, exc: Exception) -> JSONResponse:
    """The exception handler for :class:`BodyTooLarge` (the catalogue's body)."""
    assert isinstance(exc, BodyTooLarge)
    return _refusal(exc.error)


class BodyLimitMiddleware:
    """``routes`` maps (method, path template as in the routers) to its own limit."""

    def __init__(self, app: ASGIApp, default: Limit,
                 routes: dict[tuple[str, str], Limit]) -> None:
        self.app = app
        self.default = default
        self.routes: list[tuple[str, re.Pattern[str], Limit]] = [
            (method, compile_path(path)[0], limit) for (method, path), limit in routes.items()
        ]

    def limit_for(self, scope: Scope) -> Limit:
        for method, pattern, limit in self.routes:
            if scope["method"] == method and pattern.match(scope["path"]):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length = _content_length(scope)
        if length is not None and length > limit.bytes:
            await _refusal(limit.error())(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.bytes:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as exc:  # raised where no exception handler runs
            if started:
                raise
            await _refusal(exc.error)(scope, receive, send)


def _refusal(error: LivetapeError) -> JSONResponse:
    """413, and the connection closes: the rest of the body is never read."""
    return JSONResponse(error.body(), status_code=413, headers={"Connection": "close"})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
