"""DescribeVodInfo's filters: which library files a management query selects, and in what order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from livetape.db.models import VodFile


class HasTag(FunctionElement[bool]):
    """``HasTag(json_list_column, tag)``: the JSON list holds exactly this string. Each
    engine reads the list with its own JSON functions, so no character of the tag is special
    (``%``, ``_``, ``"``, ``\\``, non-ASCII) and a tag never matches inside another."""

    type = Boolean()
    name = "has_tag"
    inherit_cache = True


@compiles(HasTag, "sqlite")
def _has_tag_sqlite(element: HasTag, compiler: SQLCompiler, **kw: Any) -> str:
    column, tag = (compiler.process(c, **kw) for c in element.clauses)
    return (f"EXISTS (SELECT 1 FROM json_each({column}) "
            f"WHERE json_each.type = 'text' AND json_each.value = {tag})")


@compiles(HasTag, "postgresql")
def _has_tag_postgresql(element: HasTag, compiler: SQLCompiler, **kw: Any) -> str:
    column, tag = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({column} AS JSONB) @> jsonb_build_array(CAST({tag} AS TEXT)))"


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


@dataclass(frozen=True)
class FileQuery:
    """Every field narrows the selection; unset fields select everything."""

    file_ids: list[str] = field(default_factory=list)
    name_prefix: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    class_id: int | None = None
    tags: list[str] = field(default_factory=list)  # files carrying all of them
    status: int | None = None
    room_id: str | None = None
    user_id: str | None = None
    order_by: str = "create_time"
    descending: bool = False
    # the original's SearchMedia: each list selects files matching any of its items
    names: list[str] = field(default_factory=list)
    name_prefixes: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    class_ids: list[int] = field(default_factory=list)
    any_tags: list[str] = field(default_factory=list)
    room_ids: list[str] = field(default_factory=list)

    def where(self, app_id: str) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [VodFile.app_id == app_id]
        if self.file_ids:
            clauses.append(VodFile.file_id.in_(self.file_ids))
        if self.name_prefix:
            clauses.append(VodFile.file_name.like(_like_prefix(self.name_prefix), escape="\\"))
        if self.created_from is not None:
            clauses.append(VodFile.create_time >= self.created_from)
        if self.created_to is not None:
            clauses.append(VodFile.create_time < self.created_to)
        if self.class_id is not None:
            clauses.append(VodFile.class_id == self.class_id)
        for tag in self.tags:
            clauses.append(HasTag(VodFile.tags, tag))
        if self.status is not None:
            clauses.append(VodFile.status == self.status)
        if self.room_id is not None:
            clauses.append(VodFile.room_id == self.room_id)
        if self.user_id is not None:
            clauses.append(VodFile.user_id == self.user_id)
        return clauses + self._any_of()

    def _any_of(self) -> list[ColumnElement[bool]]:
        """The list filters: a file matches one of each list's items."""
        clauses: list[ColumnElement[bool]] = []
        if self.names:
            clauses.append(VodFile.file_name.in_(self.names))
        if self.name_prefixes:
            clauses.append(or_(*(VodFile.file_name.like(_like_prefix(p), escape="\\")
                                 for p in self.name_prefixes)))
        if self.descriptions:
            clauses.append(VodFile.description.in_(self.descriptions))
        if self.class_ids:
            clauses.append(VodFile.class_id.in_(self.class_ids))
        if self.any_tags:
            clauses.append(or_(*(HasTag(VodFile.tags, tag) for tag in self.any_tags)))
        if self.room_ids:
            clauses.append(VodFile.room_id.in_(self.room_ids))
        return clauses

    def order(self) -> list[Any]:
        column = VodFile.size if self.order_by == "size" else VodFile.create_time
        keys = [column, VodFile.file_id]
        return [k.desc() for k in keys] if self.descending else keys
