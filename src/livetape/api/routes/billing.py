"""Billing over HTTP: the app's daily usage and cost (what the console charts), its bills,
its billing mode, its balance; and the operator's top-up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from livetape.api.deps import operator, server, services
from livetape.api.envelope import Envelope
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.billing.balance import to_cny, to_micro
from livetape.billing.billing_views import BillView, DayStatement, EntryView, PlanState
from livetape.billing.bills import month_span
from livetape.billing.plans import checked
from livetape.billing.usage import utc_today
from livetape.bounds import Input
from livetape.errors import Catalogue, LivetapeError

router = APIRouter(prefix="/v1", tags=["billing"])

MAX_DAYS = 366
# YYYY-MM from 0001-01 to 9999-12 (the dates Python and both databases have)
MONTH = r"^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$"
# an exabyte: a month's fee for it stays well within a bill's 64-bit amount of micro-CNY
MAX_PACKAGE_GB = 10**9


class UsageAnswer(Envelope):
    currency: str = Field(description="CNY")
    days: list[DayStatement]


class BillsAnswer(Envelope):
    currency: str = Field(description="CNY")
    month: str = Field(description="YYYY-MM")
    total: str = Field(description="the month's bills, CNY")
    bills: list[BillView]


class PlanAnswer(PlanState, Envelope):
    """The billing mode in force and any change pending."""


class BalanceAnswer(Envelope):
    balance: str = Field(description="CNY")
    entries: list[EntryView] = Field(description="the latest movements, newest first")


class TopUpAnswer(Envelope):
    app_id: str
    ref: str
    added: bool = Field(description="false: this ref was counted already")
    balance: str = Field(description="CNY")


@router.get("/billing/usage",
            summary="Daily usage and cost: traffic, storage peak, transcode minutes by tier")
@raises(Catalogue.INVALID_PARAMETER)
async def usage(
    request: Request, who: Annotated[Identity, Depends(server)],
    first: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
    last: Annotated[date | None, Query(alias="to", description="last day, inclusive")] = None,
) -> UsageAnswer:
    last = last or utc_today()
    first = first or date.fromordinal(max(last.toordinal() - 29, 1))  # 30 days, from year 1
    if first > last or (last - first).days >= MAX_DAYS:
        raise LivetapeError(Catalogue.INVALID_PARAMETER,
                            f"from must be on or before to, at most {MAX_DAYS} days")
    days = await services(request).biller.statement(who.app_id, first, last)
    return UsageAnswer(currency="CNY", days=days)


@router.get("/billing/bills", summary="The month's daily bills with their line items")
async def bills(
    request: Request, who: Annotated[Identity, Depends(server)],
    month: Annotated[str | None, Query(pattern=MONTH,
                                       description="YYYY-MM (UTC); default this month")] = None,
) -> BillsAnswer:
    first, last = month_span(month)
    found = await services(request).biller.bills(who.app_id, first, last)
    return BillsAnswer(currency="CNY", month=first.isoformat()[:7],
                       total=to_cny(sum(b.amount for b in found.values())),
                       bills=[BillView.of(b) for _, b in sorted(found.items())])


class PlanRequest(Input):
    mode: Literal["postpaid", "package"]
    storage_gb: int = Field(0, ge=0, le=MAX_PACKAGE_GB,
                            description="package: GB of the daily storage peak included")
    traffic_gb: int = Field(0, ge=0, le=MAX_PACKAGE_GB,
                            description="package: GB of playback traffic per month included")


@router.get("/billing/plan", summary="The billing mode in force and any change pending")
async def plan(request: Request, who: Annotated[Identity, Depends(server)]) -> PlanAnswer:
    shown = await services(request).plans.view(who.app_id, utc_today())
    return PlanAnswer(current=shown.current, pending=shown.pending)


@router.put("/billing/plan", summary="Choose postpaid or a package, from the next billing day")
@raises(Catalogue.INVALID_PARAMETER)
async def choose_plan(body: PlanRequest, request: Request,
                      who: Annotated[Identity, Depends(server)]) -> PlanAnswer:
    plans = services(request).plans
    await plans.choose(who.app_id, checked(body.mode, body.storage_gb, body.traffic_gb),
                       utc_today())
    shown = await plans.view(who.app_id, utc_today())
    return PlanAnswer(current=shown.current, pending=shown.pending)


@router.get("/billing/balance", summary="The app's balance (CNY) and its latest movements")
async def balance(request: Request, who: Annotated[Identity, Depends(server)]) -> BalanceAnswer:
    balances = services(request).balances
    entries = await balances.entries(who.app_id)
    return BalanceAnswer(balance=to_cny(await balances.balance(who.app_id)),
                         entries=[EntryView.of(e) for e in entries])


class TopUp(Input):
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=6, description="CNY")
    ref: str = Field(min_length=1, max_length=64,
                     description="your payment's reference; a repeated one counts once")


@router.post("/operator/apps/{app_id}/topup", dependencies=[Depends(operator)],
             summary="Add to an app's balance (operator key)")
@raises(Catalogue.NOT_FOUND)
async def top_up(app_id: str, body: TopUp, request: Request) -> TopUpAnswer:
    svc = services(request)
    if await svc.apps.get(app_id) is None:
        raise LivetapeError(Catalogue.NOT_FOUND, f"no app {app_id!r}")
    added = await svc.balances.move(app_id, "topup", body.ref, to_micro(body.amount))
    svc.lookup.forget_app(app_id)  # playback resumes at once on this server
    return TopUpAnswer(app_id=app_id, ref=body.ref, added=added,
                       balance=to_cny(await svc.balances.balance(app_id)))
