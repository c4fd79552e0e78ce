"""The library over HTTP: DescribeVodPlayInfo, DescribeVodInfo, ModifyVodInfo, DeleteVodFile.

Each route makes one call to the playback service (:mod:`livetape.playback.playback_service`),
which decides the play URLs; files are shown as :mod:`livetape.library.views` says. The
objects themselves are served by :mod:`livetape.api.routes.serving`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from livetape.api.deps import server, services
from livetape.api.envelope import Envelope, Ok
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import INT_MAX, INT_MIN, UtcTime
from livetape.errors import Catalogue
from livetape.library.file_changes import FileUpdate
from livetape.library.search import FileQuery
from livetape.library.views import FileView
from livetape.playback.file_detail import FileDetail

router = APIRouter(tags=["vod"])

Exper = Annotated[int, Query(ge=0, description="signed URLs: trial seconds (0: whole file)")]
Rlimit = Annotated[int, Query(ge=0, description="signed URLs: most viewer IPs (0: any)")]
PageNo = Annotated[int, Query(ge=1, le=INT_MAX)]


class FileSet(Envelope):
    """One page of files and how many there are in all."""

    total_count: int = Field(description="files found in all (every page)")
    file_set: list[FileView]


class FileAnswer(FileView, Envelope):
    """A library file as it is now, with its play URLs."""


class FileDetailAnswer(FileDetail, Envelope):
    """A library file in full: renditions, snapshots, cover, jobs."""


class Deleted(Ok):
    """The file deleted."""

    file_id: str


@router.get("/v1/vod/play-info", summary="DescribeVodPlayInfo: play URLs by file name prefix")
async def play_info(
    request: Request, who: Annotated[Identity, Depends(server)],
    file_name: Annotated[str, Query(min_length=1)],
    page_no: PageNo = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
    exper: Exper = 0, rlimit: Rlimit = 0,
) -> FileSet:
    total, views = await services(request).playback.play_info(
        who.app_id, file_name, page_no, page_size, str(request.base_url),
        exper=exper, rlimit=rlimit)
    return FileSet(total_count=total, file_set=views)


def _csv(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


@router.get("/v1/vod/files", summary="DescribeVodInfo: list and search library files")
async def list_files(
    request: Request, who: Annotated[Identity, Depends(server)],
    file_ids: Annotated[str | None, Query(description="comma-separated ids")] = None,
    name_prefix: str | None = None,
    created_from: Annotated[UtcTime | None, Query(alias="from")] = None,
    created_to: Annotated[UtcTime | None, Query(alias="to")] = None,
    class_id: Annotated[int | None, Query(ge=0, le=INT_MAX)] = None,
    tags: Annotated[str | None, Query(description="comma-separated; files with all")] = None,
    status: Annotated[int | None, Query(ge=INT_MIN, le=INT_MAX)] = None,
    room_id: str | None = None,
    user_id: str | None = None,
    order_by: Annotated[Literal["create_time", "size"], Query()] = "create_time",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    page_no: PageNo = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> FileSet:
    query = FileQuery(
        file_ids=_csv(file_ids), name_prefix=name_prefix, created_from=created_from,
        created_to=created_to, class_id=class_id, tags=_csv(tags), status=status,
        room_id=room_id, user_id=user_id, order_by=order_by, descending=order == "desc",
    )
    total, views = await services(request).playback.search(
        who.app_id, query, page_no, page_size, str(request.base_url))
    return FileSet(total_count=total, file_set=views)


@router.patch("/v1/vod/files/{file_id}", summary="ModifyVodInfo")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND)
async def modify_file(
    file_id: str, body: FileUpdate, request: Request,
    who: Annotated[Identity, Depends(server)],
) -> FileAnswer:
    view = await services(request).playback.modify(who.app_id, file_id, body,
                                                   str(request.base_url))
    return FileAnswer.model_validate(view, from_attributes=True)


@router.delete("/v1/vod/files/{file_id}", summary="DeleteVodFile (every stored object)")
@raises(Catalogue.NOT_FOUND)
async def delete_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> Deleted:
    await services(request).playback.delete(who.app_id, file_id)
    return Deleted(file_id=file_id)


@router.get("/v1/vod/files/{file_id}",
            summary="One library file in full: renditions, snapshots, cover, jobs")
@raises(Catalogue.NOT_FOUND)
async def get_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(server)],
    exper: Exper = 0, rlimit: Rlimit = 0,
) -> FileDetailAnswer:
    detail = await services(request).playback.file(who.app_id, file_id, str(request.base_url),
                                                   exper=exper, rlimit=rlimit)
    return FileDetailAnswer.model_validate(detail, from_attributes=True)
