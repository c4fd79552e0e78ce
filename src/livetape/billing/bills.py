"""Daily bills: each app's finished days priced once, drawn from its balance.

Finalization bills every day from the app's first (its creation or first use, whichever is
earlier) through a finished day. Each day is one transaction writing the bill and its
balance entry together; a bill's primary key (app, day) makes a second run, or a second
server running at the same time, skip days already billed. A run killed half-way leaves
whole days billed and the next run carries on from there.

A day counts as finished ``delay`` after it ended (UTC): playback traffic is counted in
memory and flushed every few seconds, so the last moments of a day land a little later.
"""

from __future__ import annotations

import calendar
import logging
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.billing.balance import to_cny
from livetape.billing.billing_views import DayStatement, LineView
from livetape.billing.charges import PricedDay, price_days
from livetape.billing.plans import PlanBook
from livetape.billing.prices import PriceTable
from livetape.billing.usage import UsageLedger, today, utc_today
from livetape.db.models import App, BalanceEntry, Bill
from livetape.db.upsert import insert_once
from livetape.periodic import Periodic

log = logging.getLogger(__name__)


def last_finished_day(now: datetime, delay_seconds: float) -> date:
    return (now - timedelta(seconds=delay_seconds)).date() - timedelta(days=1)


def month_span(month: str | None) -> tuple[date, date]:
    """The first and last day of ``month`` (YYYY-MM; None: this UTC month); ValueError when
    it is no month."""
    first = date.fromisoformat(f"{month}-01") if month else utc_today().replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


class Biller:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], usage: UsageLedger,
                 plans: PlanBook, prices: PriceTable) -> None:
        self._sessions = sessions
        self._usage = usage
        self._plans = plans
        self._prices = prices

    async def finalize(self, through: date) -> int:
        """Bill every app's unbilled days up to ``through``; returns the bills written."""
        async with self._sessions() as session:
            apps = list(await session.execute(select(App.app_id, App.created_at)
                                              .order_by(App.app_id)))
        written = 0
        for app_id, created_at in apps:
            written += await self.finalize_app(app_id, created_at.date(), through)
        return written

    async def finalize_app(self, app_id: str, created: date, through: date) -> int:
        async with self._sessions() as session:
            billed = await session.scalar(select(func.max(Bill.day))
                                          .where(Bill.app_id == app_id))
        used = await self._usage.first_day(app_id)
        start = min(created, date.fromisoformat(used)) if used else created
        if billed:
            start = max(start, date.fromisoformat(billed) + timedelta(days=1))
        if start > through:
            return 0
        written = 0
        for priced in await self._priced(app_id, start, through):
            if await self._write(app_id, priced):
                written += 1
        if written:
            log.info("billed %d day(s) of app %s through %s", written, app_id, through)
        return written

    async def _priced(self, app_id: str, first: date, last: date) -> list[PricedDay]:
        """Days ``first``..``last`` priced, counting the month from its 1st."""
        days = await self._usage.days(app_id, first.replace(day=1), last)
        schedule = await self._plans.schedule(app_id)
        wanted = first.isoformat()
        return [p for p in price_days(self._prices, schedule, days) if p.usage.day >= wanted]

    async def _write(self, app_id: str, priced: PricedDay) -> bool:
        day, amount = priced.usage.day, priced.amount
        async with self._sessions() as session, session.begin():
            # the bill first: a day billed already (by another run) stops here
            if not await insert_once(session, Bill, app_id=app_id, day=day,
                                     mode=priced.plan.mode, amount=amount, lines=priced.lines):
                return False
            if amount:
                session.add(BalanceEntry(app_id=app_id, kind="bill", ref=day, amount=-amount))
        return True

    async def bills(self, app_id: str, first: date, last: date) -> dict[str, Bill]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Bill).where(
                Bill.app_id == app_id, Bill.day >= first.isoformat(),
                Bill.day <= last.isoformat()))
            return {b.day: b for b in rows}

    async def statement(self, app_id: str, first: date, last: date) -> list[DayStatement]:
        """Each day's usage and cost: the bill where the day is billed, else an estimate
        priced the same way (``billed`` false)."""
        bills = await self.bills(app_id, first, last)
        days = []
        for priced in await self._priced(app_id, first, last):
            bill = bills.get(priced.usage.day)
            lines = bill.lines if bill is not None else priced.lines
            amount = bill.amount if bill is not None else priced.amount
            days.append(DayStatement.model_validate({
                **priced.usage.view(), "mode": bill.mode if bill else priced.plan.mode,
                "cost": to_cny(amount), "billed": bill is not None,
                "lines": [LineView.of(x) for x in lines]}))
        return days


class BillingRunner:
    """In the server: every ``every`` seconds, finalize the finished days; on a run's first
    pass of each UTC day, note every app's stored total too. Days carry the level of the
    last day that noted one, so once a day is enough: it gives apps whose last change predates
    the level meter a level to carry."""

    def __init__(self, biller: Biller, usage: UsageLedger,
                 sessions: async_sessionmaker[AsyncSession], *, every: float,
                 delay: float) -> None:
        self._biller, self._usage, self._sessions = biller, usage, sessions
        self._delay = delay
        self._noted_day = ""
        self._chore = Periodic("billing run", every, self.run_once)

    def start(self) -> None:
        self._chore.start()

    async def run_once(self) -> None:
        day = today()
        if self._noted_day != day:
            async with self._sessions() as session:
                app_ids = list(await session.scalars(select(App.app_id)))
            for app_id in app_ids:
                await self._usage.note_storage(app_id)
            self._noted_day = day
        await self._biller.finalize(last_finished_day(datetime.now(UTC), self._delay))

    async def stop(self) -> None:
        await self._chore.stop()
