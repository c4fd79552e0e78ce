"""What the API and the CLI show of billing: a day's usage and cost, bills and their lines,
billing plans, balance movements. Amounts are strings of CNY with all 6 decimals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from livetape.billing.balance import to_cny
from livetape.db.models import BalanceEntry, Bill


class LineView(BaseModel):
    """One line of a bill: an item, what was used, what was billed of it, at what price."""

    item: str = Field(description="traffic, storage, transcode_<tier> or package")
    used: str
    quantity: str = Field(description="what was billed (beyond a package's allowance)")
    unit: str
    price: str
    amount: str = Field(description="CNY")

    @classmethod
    def of(cls, line: dict[str, Any]) -> LineView:
        """A stored line (its amount in micro-CNY)."""
        return cls(**{**line, "amount": to_cny(int(line["amount"]))})


class DayStatement(BaseModel):
    """A day's usage and cost: the bill where the day is billed, else an estimate."""

    day: str
    traffic_bytes: int
    storage_peak_bytes: int
    transcode_minutes: dict[str, float] = Field(description="by tier")
    mode: str = Field(description="postpaid | package")
    cost: str = Field(description="CNY")
    billed: bool
    lines: list[LineView]


class BillView(BaseModel):
    """A day's bill."""

    day: str
    mode: str
    amount: str = Field(description="CNY")
    lines: list[LineView]

    @classmethod
    def of(cls, bill: Bill) -> BillView:
        return cls(day=bill.day, mode=bill.mode, amount=to_cny(bill.amount),
                   lines=[LineView.of(x) for x in bill.lines])


class PostpaidView(BaseModel):
    mode: Literal["postpaid"]
    since: str | None = Field(description="the first day it applies; null: never chosen")


class PackageView(BaseModel):
    mode: Literal["package"]
    since: str | None = Field(description="the first day it applies")
    storage_gb: int = Field(description="GB of the daily storage peak included")
    traffic_gb: int = Field(description="GB of playback traffic per month included")


PlanView = Annotated[PostpaidView | PackageView, Field(discriminator="mode")]


class PlanState(BaseModel):
    """The billing mode in force today and the change waiting for the next billing day."""

    current: PlanView
    pending: PlanView | None


class EntryView(BaseModel):
    """A movement of the balance: a top-up or a day's bill."""

    kind: str = Field(description="topup | bill")
    ref: str = Field(description="the payment's reference, or the billed day")
    amount: str = Field(description="CNY")
    time: str

    @classmethod
    def of(cls, entry: BalanceEntry) -> EntryView:
        return cls(kind=entry.kind, ref=entry.ref, amount=to_cny(entry.amount),
                   time=entry.created_at.isoformat())
