"""Every failure answered in the catalogue's shape (``{"code", "message", "hint"}``) at the
HTTP edge: a catalogued error with its status; the object store or the database away, 503
(1012, 1013: the request may be sent again); a malformed request, 400/404; anything else,
the catalogue's internal error (500)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from livetape.api.limits import BodyTooLarge, too_large
from livetape.errors import Catalogue, LivetapeError
from livetape.storage import StorageError

log = logging.getLogger(__name__)


def _answer(error: LivetapeError, status: int | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=status or error.kind.http_status,
                        headers=error.headers)


def _database_away(exc: Exception) -> bool:
    """The database could not be reached (no statement was sent: the connection failed) or
    dropped the connection (SQLAlchemy invalidated it); not a query that failed on its own
    (a missing table, a constraint: livetape's fault, a 500)."""
    return isinstance(exc, DBAPIError) and (bool(exc.connection_invalidated)
                                            or exc.statement is None)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LivetapeError)
    async def catalogued(_: Request, exc: LivetapeError) -> JSONResponse:
        return _answer(exc)

    app.add_exception_handler(BodyTooLarge, too_large)

    @app.exception_handler(StorageError)
    async def storage_down(_: Request, exc: StorageError) -> JSONResponse:
        # the store, not the request: 503 (the detail, which names the bucket, goes to the log)
        log.warning("storage: %s", exc)
        return _answer(LivetapeError(Catalogue.STORAGE_UNAVAILABLE, type(exc).__name__))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return _answer(LivetapeError(Catalogue.INVALID_PARAMETER, details))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = Catalogue.NOT_FOUND if exc.status_code == 404 else Catalogue.INVALID_PARAMETER
        return _answer(LivetapeError(kind, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        if _database_away(exc):  # the database, not the request: 503, safe to send again
            log.warning("database: %s", str(exc).splitlines()[0][:300])
            return _answer(LivetapeError(Catalogue.DATABASE_UNAVAILABLE, type(exc).__name__))
        # a fault of livetape's, not of the request: the catalogue's body all the same
        # (Starlette raises the exception again after this answer: uvicorn logs it)
        return _answer(LivetapeError(Catalogue.INTERNAL_ERROR, type(exc).__name__))
