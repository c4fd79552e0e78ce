"""Library categories over HTTP: CreateClass, DescribeAllClass, rename, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field

from livetape.api.deps import server, services
from livetape.api.envelope import Envelope
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import INT_MAX, Input
from livetape.errors import Catalogue
from livetape.library.class_tree import ClassTreeView, ClassView

router = APIRouter(prefix="/v1/vod/classes", tags=["vod"])


ClassId = Annotated[int, Path(ge=0, le=INT_MAX)]


class NewClass(Input):
    name: str = Field(min_length=1, max_length=64)
    parent_id: int = Field(0, ge=0, le=INT_MAX, description="0: a top-level class")


class Rename(Input):
    name: str = Field(min_length=1, max_length=64)


class ClassAnswer(ClassView, Envelope):
    """A class, created or renamed."""


class TreeAnswer(ClassTreeView, Envelope):
    """The category tree."""


class ClassDeleted(Envelope):
    class_id: int
    moved_files: int = Field(description="files moved to the parent class")


@router.post("", status_code=201, summary="CreateClass")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def create_class(
    body: NewClass, request: Request, who: Annotated[Identity, Depends(server)]
) -> ClassAnswer:
    row = await services(request).classes.create(who.app_id, body.name, body.parent_id)
    return ClassAnswer(**ClassView.of(row).model_dump())


@router.get("", summary="DescribeAllClass: the category tree with file counts")
async def describe_all(
    request: Request, who: Annotated[Identity, Depends(server)]
) -> TreeAnswer:
    tree = await services(request).classes.tree(who.app_id)
    return TreeAnswer(class_set=tree.class_set,
                      uncategorized_file_count=tree.uncategorized_file_count)


@router.patch("/{class_id}", summary="Rename a class")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def rename_class(
    class_id: ClassId, body: Rename, request: Request, who: Annotated[Identity, Depends(server)]
) -> ClassAnswer:
    row = await services(request).classes.rename(who.app_id, class_id, body.name)
    return ClassAnswer(**ClassView.of(row).model_dump())


@router.delete("/{class_id}", summary="Delete a class (refused when not empty)")
@raises(Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def delete_class(
    class_id: ClassId, request: Request, who: Annotated[Identity, Depends(server)],
    move_files: bool = False,
) -> ClassDeleted:
    moved = await services(request).classes.delete(who.app_id, class_id,
                                                   move_to_parent=move_files)
    return ClassDeleted(class_id=class_id, moved_files=moved)
