"""The usage ledger: per app, per UTC day, per meter, kept in the database.

Meters: ``traffic_bytes`` (bytes the file server sent for the app's play URLs, partial
ranges counted by what was sent), ``storage_peak_bytes`` (the day's highest stored total,
originals and renditions), ``storage_bytes`` (the stored total last seen that day, carried
into the following days that saw no change), ``transcode_ms_<tier>`` (rendition output by
resolution tier: sd, hd, fhd, 2k, 4k). Each write is one upsert (``INSERT ... ON CONFLICT DO
UPDATE``), so servers and workers on several machines can write the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.billing.prices import TIERS
from livetape.db.models import FileStatus, Rendition, UsageDay, VodFile
from livetape.db.upsert import insert

Write = Literal["add", "peak", "set"]

TRAFFIC = "traffic_bytes"
STORAGE_PEAK = "storage_peak_bytes"
STORAGE_LEVEL = "storage_bytes"


def utc_today() -> date:
    return datetime.now(UTC).date()


def today() -> str:
    return utc_today().isoformat()


def transcode_meter(width: int, height: int) -> str:
    """The transcode meter of an output by its short side (audio-only counts as sd)."""
    short = min(width, height) if width and height else 0
    for tier, limit in zip(TIERS, (480, 720, 1080, 1440), strict=False):
        if short <= limit:
            return f"transcode_ms_{tier}"
    return "transcode_ms_4k"


class UsageLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def note_storage(self, app_id: str) -> int:
        """Record what the app stores now: today's level, and its peak if higher."""
        async with self._sessions() as session:
            files = await session.scalar(select(func.coalesce(func.sum(VodFile.size), 0))
                                         .where(VodFile.app_id == app_id,
                                                VodFile.status != FileStatus.NOT_STORED))
            renditions = await session.scalar(select(func.coalesce(func.sum(Rendition.size), 0))
                                              .where(Rendition.app_id == app_id))
        total = int(files or 0) + int(renditions or 0)
        day = today()
        await self._write(app_id, day, STORAGE_LEVEL, total, "set")
        await self._write(app_id, day, STORAGE_PEAK, total, "peak")
        return total

    async def add(self, app_id: str, meter: str, amount: int, day: str | None = None) -> None:
        """Add to a counter."""
        await self._write(app_id, day or today(), meter, amount, "add")

    async def raise_to(self, app_id: str, meter: str, level: int, day: str | None = None) -> None:
        """Raise a peak meter to ``level`` if that is higher than the day's so far."""
        await self._write(app_id, day or today(), meter, level, "peak")

    async def _write(self, app_id: str, day: str, meter: str, value: int, how: Write) -> None:
        """One upsert: the first write of a row inserts it, later ones change it in place
        (concurrent first writes from several processes are settled by the database)."""
        async with self._sessions() as session, session.begin():
            statement = insert(session, UsageDay).values(app_id=app_id, day=day, meter=meter,
                                                         value=value)
            given = statement.excluded.value
            keys = [UsageDay.app_id, UsageDay.day, UsageDay.meter]
            if how == "peak":
                statement = statement.on_conflict_do_update(
                    index_elements=keys, set_={"value": given}, where=UsageDay.value < given)
            elif how == "set":
                statement = statement.on_conflict_do_update(index_elements=keys,
                                                            set_={"value": given})
            else:
                statement = statement.on_conflict_do_update(
                    index_elements=keys, set_={"value": UsageDay.value + given})
            await session.execute(statement)

    async def days(self, app_id: str, first: date, last: date) -> list[DayUsage]:
        """Every day from ``first`` to ``last`` (inclusive), unused days as zeros. A day's
        storage peak is at least what the last earlier day ended with (files stored on a
        day with no change still count)."""
        async with self._sessions() as session:
            rows = await session.execute(select(UsageDay.day, UsageDay.meter, UsageDay.value)
                                         .where(UsageDay.app_id == app_id,
                                                UsageDay.day >= first.isoformat(),
                                                UsageDay.day <= last.isoformat()))
            found: dict[str, dict[str, int]] = {}
            for day, meter, value in rows:
                found.setdefault(day, {})[meter] = value
            carried = await session.scalar(
                select(UsageDay.value).where(UsageDay.app_id == app_id,
                                             UsageDay.meter == STORAGE_LEVEL,
                                             UsageDay.day < first.isoformat())
                .order_by(UsageDay.day.desc()).limit(1))
        level = int(carried or 0)
        days = []
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            day = date.fromordinal(ordinal).isoformat()
            meters = found.get(day, {})
            days.append(DayUsage(
                day, traffic=meters.get(TRAFFIC, 0),
                storage_peak=max(level, meters.get(STORAGE_PEAK, 0)),
                transcode_ms={t: meters[f"transcode_ms_{t}"] for t in TIERS
                              if meters.get(f"transcode_ms_{t}")}))
            level = meters.get(STORAGE_LEVEL, level)
        return days

    async def first_day(self, app_id: str) -> str | None:
        """The first day the app used anything."""
        async with self._sessions() as session:
            found = await session.scalar(select(func.min(UsageDay.day))
                                         .where(UsageDay.app_id == app_id))
        return str(found) if found else None


@dataclass(frozen=True)
class DayUsage:
    """A day's meters: bytes sent, peak bytes stored (carried from the day before when
    nothing changed), output milliseconds by transcode tier."""

    day: str
    traffic: int = 0
    storage_peak: int = 0
    transcode_ms: dict[str, int] = field(default_factory=dict)

    def view(self) -> dict[str, object]:
        return {"day": self.day, TRAFFIC: self.traffic, STORAGE_PEAK: self.storage_peak,
                "transcode_minutes": {t: round(self.transcode_ms.get(t, 0) / 60000, 3)
                                      for t in TIERS}}
