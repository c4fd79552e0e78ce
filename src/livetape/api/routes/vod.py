"""The library over HTTP: DescribeVodPlayInfo, DescribeVodInfo, ModifyVodInfo, DeleteVodFile.

The objects themselves are served by :mod:`livetape.api.routes.serving`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from livetape.api.deps import play_urls, server, services
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import INT_MAX, INT_MIN, TAG_LENGTH, Input, UtcTime
from livetape.db.models import VodFile
from livetape.errors import Catalogue, LivetapeError
from livetape.library.search import FileQuery

router = APIRouter(tags=["vod"])

Exper = Annotated[int, Query(ge=0, description="signed URLs: trial seconds (0: whole file)")]
Rlimit = Annotated[int, Query(ge=0, description="signed URLs: most viewer IPs (0: any)")]
PageNo = Annotated[int, Query(ge=1, le=INT_MAX)]


async def described(
    request: Request, app_id: str, rows: list[VodFile], *, jobs: bool = False,
    exper: int = 0, rlimit: int = 0,
) -> list[dict[str, Any]]:
    """Files as the API shows them, with (maybe signed) play URLs."""
    library = services(request).library
    extras = await library.extras([row.file_id for row in rows], jobs=jobs)
    urls = await play_urls(request, app_id, exper=exper, rlimit=rlimit)
    return [library.describe(row, extras[row.file_id], urls) for row in rows]


@router.get("/v1/vod/play-info", summary="DescribeVodPlayInfo: play URLs by file name prefix")
async def play_info(
    request: Request, who: Annotated[Identity, Depends(server)],
    file_name: Annotated[str, Query(min_length=1)],
    page_no: PageNo = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
    exper: Exper = 0, rlimit: Rlimit = 0,
) -> dict[str, Any]:
    library = services(request).library
    query = FileQuery(name_prefix=file_name)
    total, rows = await library.search(who.app_id, query, page_no, page_size)
    return {"code": 0, "message": "ok", "total_count": total,
            "file_set": await described(request, who.app_id, rows, exper=exper, rlimit=rlimit)}


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
) -> dict[str, Any]:
    query = FileQuery(
        file_ids=_csv(file_ids), name_prefix=name_prefix, created_from=created_from,
        created_to=created_to, class_id=class_id, tags=_csv(tags), status=status,
        room_id=room_id, user_id=user_id, order_by=order_by, descending=order == "desc",
    )
    library = services(request).library
    total, rows = await library.search(who.app_id, query, page_no, page_size)
    return {"code": 0, "message": "ok", "total_count": total,
            "file_set": await described(request, who.app_id, rows)}


class FileUpdate(Input):
    """ModifyVodInfo: the fields to change (absent = unchanged)."""

    file_name: str | None = Field(None, min_length=1, max_length=200, pattern="^[^/]*$",
                                  description="at most LIVETAPE_MAX_FILE_NAME_LENGTH characters")
    description: str | None = Field(None, max_length=1000)
    class_id: int | None = Field(None, ge=0, le=INT_MAX)
    tags: list[Annotated[str, Field(min_length=1, max_length=TAG_LENGTH)]] | None = None
    expire_time: UtcTime | Literal[-1] | None = Field(
        None, description="ISO 8601 time after which the file is deleted; -1 = never"
    )


@router.patch("/v1/vod/files/{file_id}", summary="ModifyVodInfo")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND)
async def modify_file(
    file_id: str, body: FileUpdate, request: Request,
    who: Annotated[Identity, Depends(server)],
) -> dict[str, Any]:
    svc = services(request)
    changes = body.model_dump(exclude_unset=True)
    if "file_name" in changes and (
        changes["file_name"] is None or "/" in changes["file_name"]
        or len(changes["file_name"]) > svc.settings.max_file_name_length
    ):
        raise LivetapeError(Catalogue.INVALID_PARAMETER,
                            f"file_name: 1-{svc.settings.max_file_name_length} characters, no '/'")
    if len(changes.get("tags") or []) > svc.settings.max_tags:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, f"at most {svc.settings.max_tags} tags")
    if changes.get("expire_time") == -1:
        changes["expire_time"] = None  # never
    for name in ("description", "class_id", "tags"):
        if name in changes and changes[name] is None:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"{name} cannot be null")
    if "class_id" in changes and not await svc.classes.exists(who.app_id, changes["class_id"]):
        raise LivetapeError(Catalogue.NOT_FOUND, f"no class {changes['class_id']}")
    row = await svc.library.modify(who.app_id, file_id, changes)
    return {"code": 0, "message": "ok", **(await described(request, who.app_id, [row]))[0]}


@router.delete("/v1/vod/files/{file_id}", summary="DeleteVodFile (every stored object)")
@raises(Catalogue.NOT_FOUND)
async def delete_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    await services(request).library.delete(who.app_id, file_id)
    services(request).lookup.forget_file(file_id)
    return {"code": 0, "message": "ok", "file_id": file_id}


@router.get("/v1/vod/files/{file_id}",
            summary="One library file in full: renditions, snapshots, cover, jobs")
@raises(Catalogue.NOT_FOUND)
async def get_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(server)],
    exper: Exper = 0, rlimit: Rlimit = 0,
) -> dict[str, Any]:
    row = await services(request).library.get(who.app_id, file_id)
    found = await described(request, who.app_id, [row], jobs=True, exper=exper, rlimit=rlimit)
    return {"code": 0, "message": "ok", "jobs": [], **found[0]}
