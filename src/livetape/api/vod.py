"""The library over HTTP: DescribeVodPlayInfo, file details, and the MP4 downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from ..errors import Catalogue, LivetapeError
from ..service.apps import Identity
from ..vod.library import STATUS_NORMAL
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
    total, rows = await library.by_name_prefix(who.app_id, file_name, page_no, page_size)
    base = base_url(request)
    return {"code": 0, "message": "ok", "total_count": total,
            "file_set": [library.describe(row, base) for row in rows]}


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
async def media(app_id: str, file_id: str, name: str, request: Request) -> FileResponse:
    library = services(request).library
    row = await library.get(app_id, file_id)
    path = library.storage.local_path(f"{app_id}/{file_id}/{name}")
    if row.status != STATUS_NORMAL or path is None:
        raise LivetapeError(Catalogue.NOT_FOUND, f"no object {name!r} for file {file_id!r}")
    # Starlette's FileResponse streams from disk and answers Range with 206
    return FileResponse(path, media_type="video/mp4",
                        headers={"Cache-Control": "public, max-age=3600"})
