"""Every HTTP request: an id (the client's ``X-Request-Id`` when it is a sane one, else a new
one), sent back in ``X-Request-Id`` and put on every log line the request causes; and, once
it is answered, counted in the metrics by method, route (the path template, never the path:
ids would make a series each) and status, with its duration to the last byte."""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livetape import log_context
from livetape.metrics import Metrics

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


class RequestContext:
    """Pure ASGI middleware (it never buffers a body, so media streams pass as they are)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"")
        request_id = given.decode() if _SANE.fullmatch(given) else uuid.uuid4().hex
        status = 500  # an exception with no answer at all

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (HEADER, request_id.encode())]
            await send(message)

        began = time.perf_counter()
        tokens = log_context.bind(request_id=request_id)
        try:
            await self.app(scope, receive, answer)
        finally:
            log_context.unbind(tokens)
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_http(scope["method"], template, status,
                                      time.perf_counter() - began)
