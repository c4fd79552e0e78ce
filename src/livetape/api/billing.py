"""Billing over HTTP: the app's daily usage (what the console charts) and its balance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ..billing.balance import to_cny
from ..errors import Catalogue, LivetapeError
from ..service.apps import Identity
from .deps import server, services

router = APIRouter(prefix="/v1/billing", tags=["billing"])

MAX_DAYS = 366


@router.get("/usage", summary="Daily usage: traffic, storage peak, transcode minutes by tier")
async def usage(
    request: Request, who: Annotated[Identity, Depends(server)],
    first: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
    last: Annotated[date | None, Query(alias="to", description="last day, inclusive")] = None,
) -> dict[str, Any]:
    last = last or datetime.now(UTC).date()
    first = first or last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_DAYS:
        raise LivetapeError(Catalogue.INVALID_PARAMETER,
                            f"from must be on or before to, at most {MAX_DAYS} days")
    days = await services(request).library.usage.series(who.app_id, first, last)
    return {"code": 0, "message": "ok", "days": days}


@router.get("/balance", summary="The app's balance (CNY) and its latest movements")
async def balance(request: Request, who: Annotated[Identity, Depends(server)]) -> dict[str, Any]:
    balances = services(request).balances
    entries = await balances.entries(who.app_id)
    return {"code": 0, "message": "ok", "balance": to_cny(await balances.balance(who.app_id)),
            "entries": [{"kind": e.kind, "ref": e.ref, "amount": to_cny(e.amount),
                         "time": e.created_at.isoformat()} for e in entries]}
