"""Billing modes: postpaid (the default for an app that never chose) or a package.

A package includes storage (GB of the daily peak) and traffic (GB per calendar month); use
beyond it is billed postpaid. A change of mode is written for the next billing day (UTC):
today's bill is made under the mode today began with. Changing again before then replaces
the pending change. Rows are never rewritten for days already begun, so a bill can always
be re-derived from the plan in force on its day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.billing.billing_views import PackageView, PlanState, PlanView, PostpaidView
from livetape.db.models import BillingPlan
from livetape.db.upsert import insert
from livetape.errors import Catalogue, LivetapeError

MODES = ("postpaid", "package")


@dataclass(frozen=True)
class Plan:
    mode: str = "postpaid"
    storage_gb: int = 0
    traffic_gb: int = 0
    since: str | None = None  # the first day it applies; None: never chosen

    def view(self) -> PlanView:
        if self.mode == "package":
            return PackageView(mode="package", since=self.since, storage_gb=self.storage_gb,
                               traffic_gb=self.traffic_gb)
        return PostpaidView(mode="postpaid", since=self.since)


POSTPAID = Plan()


@dataclass(frozen=True)
class Schedule:
    """An app's plans by the day they begin, oldest first."""

    plans: tuple[Plan, ...]

    def on(self, day: str) -> Plan:
        found = POSTPAID
        for plan in self.plans:
            if plan.since is not None and plan.since <= day:
                found = plan
        return found


def checked(mode: str, storage_gb: int, traffic_gb: int) -> Plan:
    """A plan from user input, or a 1000 error saying what is wrong."""
    if mode not in MODES:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, f"mode must be one of {MODES}")
    if mode == "postpaid":
        return Plan()
    if storage_gb < 0 or traffic_gb < 0 or storage_gb + traffic_gb == 0:
        raise LivetapeError(Catalogue.INVALID_PARAMETER,
                            "a package includes storage_gb and/or traffic_gb (whole GB, >= 0, "
                            "not both 0)")
    return Plan("package", storage_gb, traffic_gb)


class PlanBook:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def schedule(self, app_id: str) -> Schedule:
        async with self._sessions() as session:
            rows = await session.scalars(select(BillingPlan).where(BillingPlan.app_id == app_id)
                                         .order_by(BillingPlan.effective_day))
            return Schedule(tuple(Plan(r.mode, r.storage_gb, r.traffic_gb, r.effective_day)
                                  for r in rows))

    async def choose(self, app_id: str, plan: Plan, today: date) -> Plan:
        """Make ``plan`` the app's mode from the next billing day; returns it with its day."""
        begins = (today + timedelta(days=1)).isoformat()
        async with self._sessions() as session, session.begin():
            await session.execute(delete(BillingPlan).where(
                BillingPlan.app_id == app_id, BillingPlan.effective_day > begins))
            # the pending change, replaced when there is one (two changes at once: the last wins)
            statement = insert(session, BillingPlan).values(
                app_id=app_id, effective_day=begins, mode=plan.mode, storage_gb=plan.storage_gb,
                traffic_gb=plan.traffic_gb)
            given = statement.excluded
            await session.execute(statement.on_conflict_do_update(
                index_elements=[BillingPlan.app_id, BillingPlan.effective_day],
                set_={"mode": given.mode, "storage_gb": given.storage_gb,
                      "traffic_gb": given.traffic_gb, "created_at": given.created_at}))
        return Plan(plan.mode, plan.storage_gb, plan.traffic_gb, begins)

    async def view(self, app_id: str, today: date) -> PlanState:
        """The mode in force today and the change waiting for the next billing day, if any."""
        schedule = await self.schedule(app_id)
        day = today.isoformat()
        pending = [p for p in schedule.plans if p.since is not None and p.since > day]
        return PlanState(current=schedule.on(day).view(),
                         pending=pending[-1].view() if pending else None)
