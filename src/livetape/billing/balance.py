"""An app's balance: top-ups add to it, daily bills draw on it.

Amounts are integers of micro-CNY (1e-6 CNY), exact on every engine. Each movement has a
reference that may be used once per app and kind (a top-up's own reference, a bill's day),
so repeating a top-up request or a day's finalization never counts twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import BalanceEntry
from livetape.db.upsert import insert_once

MICRO = Decimal(1_000_000)


def to_micro(cny: Decimal) -> int:
    return int((cny * MICRO).to_integral_value())


def to_cny(micro: int) -> str:
    """An amount as a string of CNY with all 6 decimals: exact, nothing rounded away."""
    return f"{Decimal(micro) / MICRO:.6f}"


class Balances:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def balance(self, app_id: str) -> int:
        async with self._sessions() as session:
            total = await session.scalar(select(func.coalesce(func.sum(BalanceEntry.amount), 0))
                                         .where(BalanceEntry.app_id == app_id))
        return int(total or 0)

    async def overdue_since(self, app_id: str, opened: datetime) -> datetime | None:
        """Since when the balance has been at or below zero (``opened``, the app's creation,
        when it never was above); None while it is above zero."""
        async with self._sessions() as session:
            rows = await session.execute(select(BalanceEntry.amount, BalanceEntry.created_at)
                                         .where(BalanceEntry.app_id == app_id)
                                         .order_by(BalanceEntry.entry_id))
            total = 0
            since: datetime | None = opened
            for amount, at in rows:
                total += amount
                if total > 0:
                    since = None
                elif since is None:
                    since = at
        return since

    async def move(self, app_id: str, kind: str, ref: str, amount: int) -> bool:
        """Record a movement once; False when ``(kind, ref)`` was already recorded."""
        async with self._sessions() as session, session.begin():
            return await insert_once(session, BalanceEntry, app_id=app_id, kind=kind, ref=ref,
                                     amount=amount)

    async def entries(self, app_id: str, limit: int = 100) -> list[BalanceEntry]:
        async with self._sessions() as session:
            rows = await session.scalars(select(BalanceEntry).where(BalanceEntry.app_id == app_id)
                                         .order_by(BalanceEntry.entry_id.desc()).limit(limit))
            return list(rows)
