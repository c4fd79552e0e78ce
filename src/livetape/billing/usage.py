"""The usage ledger: per app, per UTC day, per meter, kept in the database.

Meters: ``traffic_bytes`` (bytes the file server sent for the app's play URLs, partial
ranges counted by what was sent), ``storage_peak_bytes`` (the day's highest stored total,
originals and renditions), ``transcode_ms_<tier>`` (rendition output by resolution
tier: sd, hd, fhd, 2k, 4k). Counters are added to with one UPDATE (an INSERT the first
time), so servers and workers on several machines can write the same rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.models import Rendition, UsageDay, VodFile

TRAFFIC = "traffic_bytes"
STORAGE_PEAK = "storage_peak_bytes"
TIERS = ("sd", "hd", "fhd", "2k", "4k")  # short side up to 480, 720, 1080, 1440, above


def today() -> str:
    return datetime.now(UTC).date().isoformat()


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
        """Raise today's storage peak to what the app stores now; returns that total."""
        async with self._sessions() as session:
            files = await session.scalar(select(func.coalesce(func.sum(VodFile.size), 0))
                                         .where(VodFile.app_id == app_id,
                                                VodFile.status != -1))
            renditions = await session.scalar(select(func.coalesce(func.sum(Rendition.size), 0))
                                              .where(Rendition.app_id == app_id))
        total = int(files or 0) + int(renditions or 0)
        await self.raise_to(app_id, STORAGE_PEAK, total)
        return total

    async def add(self, app_id: str, meter: str, amount: int, day: str | None = None) -> None:
        """Add to a counter."""
        await self._write(app_id, day or today(), meter, amount, peak=False)

    async def raise_to(self, app_id: str, meter: str, level: int, day: str | None = None) -> None:
        """Raise a peak meter to ``level`` if that is higher than the day's so far."""
        await self._write(app_id, day or today(), meter, level, peak=True)

    async def _write(self, app_id: str, day: str, meter: str, value: int, *, peak: bool) -> None:
        where = (UsageDay.app_id == app_id, UsageDay.day == day, UsageDay.meter == meter)
        for _ in range(3):  # a concurrent first INSERT of the same row: update it instead
            async with self._sessions() as session:
                try:
                    async with session.begin():
                        statement = update(UsageDay).where(*where)
                        if peak:
                            statement = statement.where(UsageDay.value < value).values(
                                value=value)
                        else:
                            statement = statement.values(value=UsageDay.value + value)
                        done = await session.execute(statement)
                        if done.rowcount == 0:  # type: ignore[attr-defined]
                            exists = await session.scalar(select(UsageDay.value).where(*where))
                            if exists is None:
                                session.add(UsageDay(app_id=app_id, day=day, meter=meter,
                                                     value=value))
                    return
                except IntegrityError:
                    continue
        raise RuntimeError(f"could not record usage {meter} for {app_id} on {day}")

    async def series(self, app_id: str, first: date, last: date) -> list[dict[str, Any]]:
        """Every day from ``first`` to ``last`` (inclusive) with its meters (0 when unused)."""
        async with self._sessions() as session:
            rows = await session.execute(select(UsageDay.day, UsageDay.meter, UsageDay.value)
                                         .where(UsageDay.app_id == app_id,
                                                UsageDay.day >= first.isoformat(),
                                                UsageDay.day <= last.isoformat()))
            found: dict[str, dict[str, int]] = {}
            for day, meter, value in rows:
                found.setdefault(day, {})[meter] = value
        days = []
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            day = date.fromordinal(ordinal).isoformat()
            meters = found.get(day, {})
            days.append({
                "day": day, TRAFFIC: meters.get(TRAFFIC, 0),
                STORAGE_PEAK: meters.get(STORAGE_PEAK, 0),
                "transcode_minutes": {
                    t: round(meters.get(f"transcode_ms_{t}", 0) / 60000, 3) for t in TIERS},
            })
        return days
