"""Database engines: an async engine for the server, migrations run through alembic.

``sqlite:///path`` and ``postgresql://...`` URLs are accepted; the async and sync drivers
(aiosqlite, psycopg) are chosen here so the rest of the code never names a driver.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
T = TypeVar("T")


def driver_url(url: str, *, use_async: bool) -> str:
    """Rewrite a plain engine URL to the driver livetape uses for it."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        driver = "aiosqlite" if use_async else "pysqlite"
    elif backend in ("postgresql", "postgres"):
        backend, driver = "postgresql", "psycopg"
    else:  # config validation rejects other engines; keep the message if it slips through
        raise ValueError(f"unsupported database URL {url!r}")
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


def migrate(url: str) -> None:
    """Bring the schema at ``url`` to the newest migration (idempotent)."""
    sync_url = driver_url(url, use_async=False)
    parsed = make_url(sync_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
    log.info("database schema at head (%s)", parsed.render_as_string(hide_password=True))


class Database:
    """Owns the async engine and hands out sessions. ``start()`` migrates, ``stop()`` disposes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker | None = None  # type: ignore[type-arg]

    async def start(self, *, run_migrations: bool = True) -> None:
        if self._engine is not None:
            return
        if run_migrations:
            migrate(self.url)
        engine = create_async_engine(driver_url(self.url, use_async=True), pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
            self._sessions = None

    @property
    def sessions(self) -> async_sessionmaker:  # type: ignore[type-arg]
        if self._sessions is None:
            raise RuntimeError("Database.start() was not called")
        return self._sessions


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    # WAL lets the CLI read while the server writes; a busy timeout rides out short locks.
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def run_against(url: str, job: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``job`` on the database at ``url``, started (migrated) and stopped around it: what
    the command-line tools do without a server."""

    async def run() -> T:
        db = Database(url)
        await db.start()
        try:
            return await job(db)
        finally:
            await db.stop()

    return asyncio.run(run())
