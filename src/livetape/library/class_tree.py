"""Library categories (CreateClass, DescribeAllClass, rename, delete): a tree per app.

Class 0 is the implicit top level ("uncategorized"): files with ``class_id`` 0 live there and
top-level classes have ``parent_id`` 0. Sibling names are unique.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.db.models import VodClass, VodFile
from livetape.errors import Catalogue, LivetapeError

TOP = 0


class ClassView(BaseModel):
    """A class: its id, name and parent (0: top level)."""

    class_id: int
    name: str
    parent_id: int

    @classmethod
    def of(cls, row: VodClass) -> ClassView:
        return cls(class_id=row.class_id, name=row.name, parent_id=row.parent_id)


class ClassNode(ClassView):
    """A class in the tree, with its subclasses."""

    file_count: int = Field(description="the class's own files")
    children: list[ClassNode]
    total_file_count: int = Field(description="the files of its whole subtree")


class ClassTreeView(BaseModel):
    """DescribeAllClass: the top-level classes, and the count of uncategorized files."""

    class_set: list[ClassNode]
    uncategorized_file_count: int = Field(description="the files in class 0")


class ClassTree:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _get(self, session: AsyncSession, app_id: str, class_id: int) -> VodClass:
        row = await session.get(VodClass, class_id)
        if row is None or row.app_id != app_id:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no class {class_id}")
        return row

    async def _check_name(self, session: AsyncSession, app_id: str, parent_id: int,
                          name: str) -> None:
        name = name.strip()
        if not 0 < len(name) <= 64:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, "name: 1-64 characters")
        taken = await session.scalar(select(func.count()).select_from(VodClass).where(
            VodClass.app_id == app_id, VodClass.parent_id == parent_id, VodClass.name == name))
        if taken:
            raise LivetapeError(Catalogue.CONFLICT, f"a class named {name!r} exists there")

    async def exists(self, app_id: str, class_id: int) -> bool:
        if class_id == TOP:
            return True
        async with self._sessions() as session:
            row = await session.get(VodClass, class_id)
            return row is not None and row.app_id == app_id

    async def create(self, app_id: str, name: str, parent_id: int = TOP) -> VodClass:
        async with self._sessions() as session, session.begin():
            if parent_id != TOP:
                await self._get(session, app_id, parent_id)
            await self._check_name(session, app_id, parent_id, name)
            row = VodClass(app_id=app_id, name=name.strip(), parent_id=parent_id)
            session.add(row)
        return row

    async def rename(self, app_id: str, class_id: int, name: str) -> VodClass:
        async with self._sessions() as session, session.begin():
            row = await self._get(session, app_id, class_id)
            if name.strip() != row.name:
                await self._check_name(session, app_id, row.parent_id, name)
            row.name = name.strip()
        return row

    async def delete(self, app_id: str, class_id: int, *, move_to_parent: bool) -> int:
        """Delete a class; refused while it holds files or classes unless they move up.

        Returns how many files moved to the parent.
        """
        async with self._sessions() as session, session.begin():
            row = await self._get(session, app_id, class_id)
            files = await session.scalar(select(func.count()).select_from(VodFile).where(
                VodFile.app_id == app_id, VodFile.class_id == class_id)) or 0
            children = await session.scalar(select(func.count()).select_from(VodClass).where(
                VodClass.app_id == app_id, VodClass.parent_id == class_id)) or 0
            if (files or children) and not move_to_parent:
                raise LivetapeError(
                    Catalogue.CONFLICT, f"class {class_id} holds {files} files and {children} "
                    "classes; pass move_files=true to move them to its parent")
            await session.execute(update(VodFile).where(
                VodFile.app_id == app_id, VodFile.class_id == class_id,
            ).values(class_id=row.parent_id))
            await session.execute(update(VodClass).where(
                VodClass.app_id == app_id, VodClass.parent_id == class_id,
            ).values(parent_id=row.parent_id))
            await session.delete(row)
        return int(files)

    async def tree(self, app_id: str) -> ClassTreeView:
        """DescribeAllClass: the top-level classes with their subclasses and file counts.

        ``file_count`` counts a class's own files, ``total_file_count`` its whole subtree;
        ``uncategorized_file_count`` the files in class 0.
        """
        async with self._sessions() as session:
            rows = list(await session.scalars(
                select(VodClass).where(VodClass.app_id == app_id).order_by(VodClass.class_id)))
            counts = dict((await session.execute(
                select(VodFile.class_id, func.count()).where(VodFile.app_id == app_id)
                .group_by(VodFile.class_id))).tuples().all())
        nodes: dict[int, dict[str, Any]] = {
            r.class_id: {"class_id": r.class_id, "name": r.name, "parent_id": r.parent_id,
                         "file_count": counts.get(r.class_id, 0), "children": []}
            for r in rows
        }
        top: list[dict[str, Any]] = []
        for node in nodes.values():
            parent = nodes.get(node["parent_id"])
            (parent["children"] if parent else top).append(node)

        def total(node: dict[str, Any]) -> int:
            node["total_file_count"] = node["file_count"] + sum(total(c) for c in node["children"])
            return int(node["total_file_count"])

        for node in top:
            total(node)
        return ClassTreeView.model_validate(
            {"class_set": top, "uncategorized_file_count": counts.get(TOP, 0)})
