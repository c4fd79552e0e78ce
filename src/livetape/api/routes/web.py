"""The browser side: the JavaScript SDK (``/sdk/livetape.js``), the demo page (``/demo``) and
the one API call the demo needs that a user token may make: a user's own file with its play
URLs.

The static files are served as they are (:mod:`livetape.api.static_files`). The SDK is open
to every origin (CORS) so pages elsewhere can import it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from livetape.api.deps import identity, services
from livetape.api.envelope import Envelope
from livetape.api.openapi import raises
from livetape.api.static_files import HEADERS, WEB, folder_file, static_file
from livetape.auth.apps import Identity
from livetape.errors import Catalogue
from livetape.library.views import FileView

router = APIRouter(tags=["web"])


class OwnFile(FileView, Envelope):
    """A library file and its play URLs (signed when the app signs play URLs)."""


@router.get("/sdk/livetape.js", include_in_schema=False)
async def sdk(request: Request) -> Response:
    return static_file(request, WEB / "sdk" / "livetape.js",
                       {**HEADERS, "Access-Control-Allow-Origin": "*"})


@router.get("/demo", include_in_schema=False)
async def demo(request: Request) -> Response:
    return static_file(request, WEB / "demo" / "demo.html")


@router.get("/demo/{name}", include_in_schema=False)
async def demo_asset(name: str, request: Request) -> Response:
    return static_file(request, folder_file(WEB / "demo", name))


@router.get("/v1/vod/files/{file_id}/play",
            summary="A library file and its play URLs, for the user who recorded it")
@raises(Catalogue.NOT_FOUND)
async def play_own_file(
    file_id: str, request: Request, who: Annotated[Identity, Depends(identity)]
) -> OwnFile:
    """With a user token: only files recorded from that user's streams (others answer 10008,
    as if absent). With the secret key: any file of the app. URLs are signed when the app
    signs play URLs."""
    view = await services(request).playback.own_file(
        who.app_id, file_id, who.user_id, str(request.base_url))
    return OwnFile.model_validate(view, from_attributes=True)
