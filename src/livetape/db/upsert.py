"""Upserts: one ``INSERT ... ON CONFLICT`` statement on SQLite and PostgreSQL alike.

Both engines take the same clause (``ON CONFLICT (keys) DO UPDATE SET ... [WHERE ...]`` or
``DO NOTHING``), and SQLAlchemy has it in each dialect's own ``insert``: :func:`insert` picks
the one of the session's engine. The database settles concurrent writers of the same row
(several servers and workers may write one usage counter), so there is no
"insert, catch IntegrityError, retry as an update" loop anywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from livetape.db.models import Base

Insert = postgresql.Insert | sqlite.Insert


def insert(session: AsyncSession, model: type[Base]) -> Insert:
    """The dialect ``INSERT`` for ``model`` on the session's engine: it has ``excluded`` (the
    row that was to be inserted), ``on_conflict_do_update`` and ``on_conflict_do_nothing``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"no upsert for the {dialect!r} engine")  # config accepts only these two


async def insert_once(session: AsyncSession, model: type[Base], **values: Any) -> bool:
    """Insert a row unless one with the same primary or unique key exists; True when this
    call wrote it (``ON CONFLICT DO NOTHING``: the existing row is left as it is)."""
    keys = inspect(model).primary_key
    statement = insert(session, model).values(**values).on_conflict_do_nothing()
    written = await session.execute(statement.returning(*keys))
    return written.first() is not None
