"""The original's VOD API over HTTP, on livetape's own host and port: API 3.0 at ``/``
(``X-TC-Action``; what the official SDKs send) and the 2017 API's DescribeVodPlayInfo at
``/v2/index.php``.

The dialect authenticates each call itself (its signatures, not a Bearer key) and always
answers HTTP 200 with ``Content-Type: application/json`` exactly: the SDK reads errors only
so. Everything else lives in :mod:`livetape.tencent`.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from livetape import log_context
from livetape.api.deps import services
from livetape.errors import Catalogue, LivetapeError
from livetape.tencent.dialect import Received

router = APIRouter(tags=["tencent"])


def _request_id() -> str:
    return log_context.current().get("request_id") or str(uuid.uuid4())


async def _received(request: Request) -> Received:
    return Received(
        method=request.method, headers={k.lower(): v for k, v in request.headers.items()},
        query=request.scope.get("query_string", b"").decode("latin-1"),
        body=await request.body(), request_base=str(request.base_url))


@router.get("/", include_in_schema=False)
async def api3_get(request: Request) -> JSONResponse:
    """The SDK's ``reqMethod="GET"``; anything else at ``GET /`` (a browser) is not found,
    as before the dialect."""
    if "x-tc-action" not in request.headers:
        raise LivetapeError(Catalogue.NOT_FOUND, "nothing at /",
                            hint="the web console is at /console, the API at /docs")
    return await api3(request)


@router.post("/", include_in_schema=False)
async def api3(request: Request) -> JSONResponse:
    dialect = services(request).tencent
    assert dialect is not None  # built in the lifespan
    reply = await dialect.answer(await _received(request), _request_id())
    return JSONResponse(reply)


@router.get("/v2/index.php", include_in_schema=False)
@router.post("/v2/index.php", include_in_schema=False)
async def api2(request: Request) -> JSONResponse:
    dialect = services(request).tencent_v2
    assert dialect is not None
    return JSONResponse(await dialect.answer(await _received(request)))
