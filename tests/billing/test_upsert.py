"""The dialect upserts (livetape.db.upsert) and the billing writes built on them, against a
real database (SQLite, and PostgreSQL when configured): concurrent writers of one row."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import select

from livetape.auth.apps import AppService
from livetape.billing.balance import Balances
from livetape.billing.plans import Plan, PlanBook
from livetape.billing.usage import STORAGE_LEVEL, STORAGE_PEAK, TRAFFIC, UsageLedger
from livetape.db.models import BalanceEntry, BillingPlan, UsageDay
from livetape.db.session import Database
from livetape.db.upsert import insert, insert_once

DAY = "2026-11-02"


async def new_app(database: Database) -> str:
    return (await AppService(database.sessions).create("billing")).app_id


async def meter(database: Database, app_id: str, name: str) -> int | None:
    async with database.sessions() as session:
        return await session.scalar(select(UsageDay.value).where(
            UsageDay.app_id == app_id, UsageDay.day == DAY, UsageDay.meter == name))


async def test_insert_is_the_engines_own(database: Database, backend: str) -> None:
    async with database.sessions() as session:
        statement = insert(session, UsageDay)
    assert type(statement).__module__.startswith(
        f"sqlalchemy.dialects.{'postgresql' if backend == 'postgres' else 'sqlite'}")


async def test_insert_once_writes_one_row_and_reports_it(database: Database) -> None:
    app_id = await new_app(database)
    values = {"app_id": app_id, "kind": "topup", "ref": "r1", "amount": 5}
    async with database.sessions() as session, session.begin():
        assert await insert_once(session, BalanceEntry, **values)
        assert not await insert_once(session, BalanceEntry, **{**values, "amount": 7})
    async with database.sessions() as session:
        rows = list(await session.scalars(select(BalanceEntry)))
    assert [(r.ref, r.amount) for r in rows] == [("r1", 5)]
    assert rows[0].created_at is not None  # the model's Python-side defaults still apply


async def test_concurrent_adds_to_one_counter_all_count(database: Database) -> None:
    app_id = await new_app(database)
    ledger = UsageLedger(database.sessions)
    # many first writes of the same row at once: one inserts, the others add to it
    await asyncio.gather(*(ledger.add(app_id, TRAFFIC, n, DAY) for n in range(1, 21)))
    assert await meter(database, app_id, TRAFFIC) == sum(range(1, 21))
    await ledger.add(app_id, TRAFFIC, 1000, DAY)
    assert await meter(database, app_id, TRAFFIC) == 210 + 1000


async def test_a_peak_only_rises_and_a_level_is_set(database: Database) -> None:
    app_id = await new_app(database)
    ledger = UsageLedger(database.sessions)
    await asyncio.gather(*(ledger.raise_to(app_id, STORAGE_PEAK, level, DAY)
                           for level in (30, 70, 50)))
    assert await meter(database, app_id, STORAGE_PEAK) == 70
    await ledger.raise_to(app_id, STORAGE_PEAK, 10, DAY)
    assert await meter(database, app_id, STORAGE_PEAK) == 70
    await ledger.raise_to(app_id, STORAGE_PEAK, 90, DAY)
    assert await meter(database, app_id, STORAGE_PEAK) == 90
    for level in (500, 20):
        await ledger._write(app_id, DAY, STORAGE_LEVEL, level, "set")
    assert await meter(database, app_id, STORAGE_LEVEL) == 20


async def test_a_movement_is_recorded_once_however_often_it_is_sent(
        database: Database) -> None:
    app_id = await new_app(database)
    balances = Balances(database.sessions)
    sent = await asyncio.gather(*(balances.move(app_id, "topup", "order-1", 1_000_000)
                                  for _ in range(5)))
    assert sorted(sent) == [False] * 4 + [True]
    assert await balances.move(app_id, "bill", "order-1", -10)  # another kind: its own ref
    assert await balances.balance(app_id) == 1_000_000 - 10


@pytest.mark.parametrize("changes", [1, 3])
async def test_a_pending_plan_change_is_replaced(database: Database, changes: int) -> None:
    app_id = await new_app(database)
    book = PlanBook(database.sessions)
    today = date(2026, 11, 2)
    for gb in range(1, changes + 1):
        chosen = await book.choose(app_id, Plan("package", gb, 0), today)
        assert chosen.since == "2026-11-03"
    async with database.sessions() as session:
        rows = list(await session.scalars(select(BillingPlan)))
    assert [(r.effective_day, r.mode, r.storage_gb) for r in rows] == [
        ("2026-11-03", "package", changes)]
    assert (await book.view(app_id, date(2026, 11, 3))).current.storage_gb == changes
