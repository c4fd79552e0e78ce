"""For load balancers, orchestrators and Prometheus: ``/healthz`` (the process answers),
``/readyz`` (it can do its work: 200, else 503 with the failing checks) and ``/metrics``
(Prometheus's text format; ``Authorization: Bearer <LIVETAPE_METRICS_TOKEN>``, or from
loopback only while no token is set). None of them is in the OpenAPI document."""

from __future__ import annotations

import hmac
from ipaddress import ip_address
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from livetape import __version__
from livetape.api.deps import bearer, services
from livetape.errors import Catalogue, LivetapeError
from livetape.metrics import CONTENT_TYPE, Metrics

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """Alive; in a cluster, also this node's id and whether NATS is connected now (the
    node keeps serving without it: the answer stays 200)."""
    found: dict[str, Any] = {"status": "ok", "version": __version__}
    svc = getattr(request.app.state, "services", None)
    if svc is not None and svc.cluster is not None:
        found["cluster"] = svc.cluster.health()
    media_stats = getattr(request.app.state, "media_stats", None)
    if media_stats is not None:  # this process's media sockets (live/udp_stats.py)
        found["media"] = media_stats()
    return found


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    readiness = await services(request).readiness.check()
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    svc = services(request)
    token = svc.settings.metrics_token
    if token is None:
        if not _loopback(request):
            raise LivetapeError(Catalogue.UNAUTHORIZED, "/metrics answers only loopback",
                                hint="set LIVETAPE_METRICS_TOKEN and send it as "
                                "'Authorization: Bearer <token>'")
    elif not hmac.compare_digest((bearer(request) or "").encode(), token.encode()):
        raise LivetapeError(Catalogue.UNAUTHORIZED, "/metrics needs LIVETAPE_METRICS_TOKEN",
                            hint="send 'Authorization: Bearer <LIVETAPE_METRICS_TOKEN>'")
    registry: Metrics = request.app.state.metrics
    body = registry.exposition(await svc.scraper.read())
    return Response(body, media_type=CONTENT_TYPE)
