"""The browser side: the JavaScript SDK (``/sdk/livetape.js``), the demo page (``/demo``) and
the one API call the demo needs that a user token may make: a user's own file with its play
URLs.

The static files live in the package (``livetape/web/``) and are served as they are: no
build step. The SDK is open to every origin (CORS) so pages elsewhere can import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from livetape.api.deps import identity, services
from livetape.api.openapi import raises
from livetape.api.routes.vod import described
from livetape.auth.apps import Identity
from livetape.errors import Catalogue, LivetapeError

router = APIRouter(tags=["web"])

WEB = Path(__file__).resolve().parent.parent / "web"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8", ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# revalidate every time (FileResponse sends ETag / Last-Modified, so that is a 304): a new
# livetape version serves a new SDK at the same URL
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _static(path: Path, *, cors: bool = False) -> FileResponse:
    headers = dict(HEADERS)
    if cors:
        headers["Access-Control-Allow-Origin"] = "*"
    return FileResponse(path, media_type=CONTENT_TYPES[path.suffix], headers=headers)


def folder_file(folder: Path, name: str) -> Path:
    """A file directly in ``folder`` (the path parameter holds no '/'), not hidden, of a type
    served here; 10008 otherwise."""
    path = folder / name
    if name.startswith(".") or path.suffix not in CONTENT_TYPES or not path.is_file():
        raise LivetapeError(Catalogue.NOT_FOUND, f"no file {name!r} in /{folder.name}/")
    return path


@router.get("/sdk/livetape.js", include_in_schema=False)
async def sdk() -> FileResponse:
    return _static(WEB / "sdk" / "livetape.js", cors=True)


@router.get("/demo", include_in_schema=False)
async def demo() -> FileResponse:
    return _static(WEB / "demo" / "demo.html")


@router.get("/demo/{name}", include_in_schema=False)
async def demo_asset(name: str) -> FileResponse:
    return _static(folder_file(WEB / "demo", name))


@router.get("/v1/vod/files/{file_id}/play",
            summary="A library file and its play URLs, for the user who recorded it")
@raises(Catalogue.NOT_FOUND)
async def play_own_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(identity)]
) -> dict[str, Any]:
    """With a user token: only files recorded from that user's streams (others answer 10008,
    as if absent). With the secret key: any file of the app. URLs are signed when the app
    signs play URLs."""
    row = await services(request).library.get(who.app_id, file_id)
    if not who.is_server and row.user_id != who.user_id:
        raise LivetapeError(Catalogue.NOT_FOUND, f"no file {file_id!r}")
    return {"code": 0, "message": "ok", **(await described(request, who.app_id, [row]))[0]}
