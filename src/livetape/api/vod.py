"""The library over HTTP: DescribeVodPlayInfo, file details, and the MP4 downloads."""

from __future__ import annotations

import asyncio
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from ..errors import Catalogue, LivetapeError
from ..service.apps import Identity
from ..vod.library import STATUS_NORMAL
from ..vod.search import FileQuery
from .deps import base_url, server, services

router = APIRouter(tags=["vod"])


@router.get("/v1/vod/play-info", summary="DescribeVodPlayInfo: play URLs by file name prefix")
async def play_info(
    request: Request, who: Annotated[Identity, Depends(server)],
    file_name: Annotated[str, Query(min_length=1)],
    page_no: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    library = services(request).library
    query = FileQuery(name_prefix=file_name)
    total, rows = await library.search(who.app_id, query, page_no, page_size)
    base = base_url(request)
    return {"code": 0, "message": "ok", "total_count": total,
            "file_set": [library.describe(row, base) for row in rows]}


def _csv(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


@router.get("/v1/vod/files", summary="DescribeVodInfo: list and search library files")
async def list_files(
    request: Request, who: Annotated[Identity, Depends(server)],
    file_ids: Annotated[str | None, Query(description="comma-separated ids")] = None,
    name_prefix: str | None = None,
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_to: Annotated[datetime | None, Query(alias="to")] = None,
    class_id: Annotated[int | None, Query(ge=0)] = None,
    tags: Annotated[str | None, Query(description="comma-separated; files with all")] = None,
    status: int | None = None,
    room_id: str | None = None,
    user_id: str | None = None,
    order_by: Annotated[Literal["create_time", "size"], Query()] = "create_time",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    page_no: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    query = FileQuery(
        file_ids=_csv(file_ids), name_prefix=name_prefix, created_from=created_from,
        created_to=created_to, class_id=class_id, tags=_csv(tags), status=status,
        room_id=room_id, user_id=user_id, order_by=order_by, descending=order == "desc",
    )
    library = services(request).library
    total, rows = await library.search(who.app_id, query, page_no, page_size)
    base = base_url(request)
    return {"code": 0, "message": "ok", "total_count": total,
            "file_set": [library.describe(row, base) for row in rows]}


class FileUpdate(BaseModel):
    """ModifyVodInfo: the fields to change (absent = unchanged)."""

    file_name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)
    class_id: int | None = Field(None, ge=0)
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = None
    expire_time: datetime | Literal[-1] | None = Field(
        None, description="ISO 8601 time after which the file is deleted; -1 = never"
    )


@router.patch("/v1/vod/files/{file_id}", summary="ModifyVodInfo")
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
    if "expire_time" in changes:
        expiry = changes["expire_time"]
        if isinstance(expiry, datetime) and expiry.tzinfo is None:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, "expire_time needs a time zone")
        changes["expire_time"] = None if expiry in (-1, None) else expiry
    for name in ("description", "class_id", "tags"):
        if name in changes and changes[name] is None:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"{name} cannot be null")
    if "class_id" in changes and not await svc.classes.exists(who.app_id, changes["class_id"]):
        raise LivetapeError(Catalogue.NOT_FOUND, f"no class {changes['class_id']}")
    row = await svc.library.modify(who.app_id, file_id, changes)
    return {"code": 0, "message": "ok", **svc.library.describe(row, base_url(request))}


@router.delete("/v1/vod/files/{file_id}", summary="DeleteVodFile (every stored object)")
async def delete_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    await services(request).library.delete(who.app_id, file_id)
    return {"code": 0, "message": "ok", "file_id": file_id}


@router.get("/v1/vod/files/{file_id}", summary="One library file")
async def get_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    library = services(request).library
    row = await library.get(who.app_id, file_id)
    return {"code": 0, "message": "ok", **library.describe(row, base_url(request))}


@router.head("/media/{app_id}/{file_id}/{name}", operation_id="head_media",
             summary="A file's headers (size, type, ranges)")
@router.get("/media/{app_id}/{file_id}/{name}", operation_id="get_media",
            summary="Download a file (Range supported)")
async def media(app_id: str, file_id: str, name: str, request: Request) -> Response:
    library = services(request).library
    row = await library.get(app_id, file_id)
    path = library.storage.local_path(f"{app_id}/{file_id}/{name}")
    if row.status != STATUS_NORMAL or path is None:
        raise LivetapeError(Catalogue.NOT_FOUND, f"no object {name!r} for file {file_id!r}")
    # Starlette's FileResponse streams from disk, answers Range with 206 and sets ETag and
    # Last-Modified; the conditional GET (304) is answered here
    stat = await asyncio.to_thread(path.stat)  # given up front, the ETag is known now
    response = FileResponse(path, media_type="video/mp4", stat_result=stat,
                            headers={"Cache-Control": "public, max-age=3600"})
    if _not_modified(request, response.headers["etag"], response.headers["last-modified"]):
        kept = ("etag", "last-modified", "cache-control")
        return Response(status_code=304, headers={k: response.headers[k] for k in kept})
    return response


def _not_modified(request: Request, etag: str, last_modified: str) -> bool:
    """RFC 9110 13.1: If-None-Match wins over If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unparseable date: serve the file
