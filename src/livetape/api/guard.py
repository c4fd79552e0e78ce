"""A check made on every request before routing: no NUL character in its URL.

PostgreSQL cannot store or even compare text holding NUL, so a ``%00`` in a room id, a file
id or a query parameter would fail deep in the database; it is refused here, in one place,
for every route (JSON bodies are checked by :class:`livetape.bounds.Input`). The file
server's URLs (``/media/``) answer 404 instead, as for any object it does not hold.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from livetape.bounds import NUL
from livetape.errors import Catalogue, ErrorKind, LivetapeError


def refusal(path: str) -> ErrorKind:
    """The row a URL holding NUL answers on ``path``."""
    return Catalogue.NOT_FOUND if path.startswith("/media/") else Catalogue.INVALID_PARAMETER


class NulGuard:
    """ASGI middleware: 1000 (10008 under ``/media/``) for a URL holding NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            NUL in scope["path"] or b"\x00" in unquote_to_bytes(scope.get("query_string", b""))
        ):
            error = LivetapeError(refusal(scope["path"]), "a NUL character (%00) in the URL")
            response = JSONResponse(error.body(), status_code=error.kind.http_status)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
