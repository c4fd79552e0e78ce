"""Pricing a run of days: a day's usage and the plan in force become a bill's line items.

Pure arithmetic, shared by finalization (the bill) and the usage API (the estimate for days
not billed yet), so both always agree. Traffic is tiered by the calendar month's running
total under the same mode; a package's included traffic is the month's first GBs, its
included storage the first GBs of each day's peak, and its fee is due on its first day in
each month. Transcoding is always billed by the minute. Each line's amount is rounded to
the micro-CNY; a bill's total is the sum of its lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from livetape.billing.balance import to_micro
from livetape.billing.plans import Plan, Schedule
from livetape.billing.prices import GB, TIERS, PriceTable
from livetape.billing.usage import DayUsage

QUANTITY = Decimal("0.000001")


@dataclass(frozen=True)
class PricedDay:
    usage: DayUsage
    plan: Plan
    lines: list[dict[str, Any]]

    @property
    def amount(self) -> int:
        return sum(int(line["amount"]) for line in self.lines)


def _line(item: str, used: Decimal, billed: Decimal, unit: str, price: str,
          amount: Decimal) -> dict[str, Any]:
    return {"item": item, "used": str(used.quantize(QUANTITY)),
            "quantity": str(billed.quantize(QUANTITY)), "unit": unit, "price": price,
            "amount": to_micro(amount)}


def price_days(prices: PriceTable, schedule: Schedule,
               days: Iterable[DayUsage]) -> Iterator[PricedDay]:
    """Price consecutive days; the first must be a month's first day or the month's earlier
    days must be included, since traffic tiers and package fees count from the 1st."""
    month = ""
    sent_this_month: dict[str, int] = {}  # by mode
    fee_paid = False
    for usage in days:
        if usage.day[:7] != month:
            month, sent_this_month, fee_paid = usage.day[:7], {}, False
        plan = schedule.on(usage.day)
        before = sent_this_month.get(plan.mode, 0)
        sent_this_month[plan.mode] = before + usage.traffic
        lines = [_storage(prices, plan, usage.storage_peak),
                 _traffic(prices, plan, before, usage.traffic)]
        for tier in TIERS:
            ms = usage.transcode_ms.get(tier, 0)
            if ms:
                price = prices.transcode_cny_per_minute[tier]
                minutes = Decimal(ms) / 60000
                lines.append(_line(f"transcode_{tier}", minutes, minutes, "minute", str(price),
                                   minutes * price))
        if plan.mode == "package" and not fee_paid:
            fee = prices.package_fee(plan.storage_gb, plan.traffic_gb)
            lines.append(_line("package", Decimal(1), Decimal(1), "month", str(fee), fee))
            fee_paid = True
        yield PricedDay(usage, plan, lines)


def _storage(prices: PriceTable, plan: Plan, peak: int) -> dict[str, Any]:
    included = plan.storage_gb * GB if plan.mode == "package" else 0
    billed = max(0, peak - included)
    return _line("storage", Decimal(peak) / GB, Decimal(billed) / GB, "GB-day",
                 str(prices.storage_cny_per_gb_day),
                 Decimal(billed) * prices.storage_cny_per_gb_day / GB)


def _traffic(prices: PriceTable, plan: Plan, before: int, sent: int) -> dict[str, Any]:
    included = plan.traffic_gb * GB if plan.mode == "package" else 0
    over_before = max(0, before - included)
    over_after = max(0, before + sent - included)
    billed = over_after - over_before
    return _line("traffic", Decimal(sent) / GB, Decimal(billed) / GB, "GB", "tiered",
                 prices.traffic(over_before, billed))
