"""Files served as they are: the browser side's static files (SDK, demo, console) and the
conditional answer (304) every served file gives.

The static files live in the package (``livetape/web/``): no build step. A route names the
file (:func:`folder_file` refuses anything but a visible file of a served type directly in
its folder, 10008 otherwise); :func:`static_file` answers it with Starlette's
``FileResponse`` (ETag, Last-Modified, ranges) and, through :func:`conditional`, Starlette's
``StaticFiles`` rules for conditional requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles

from livetape.errors import Catalogue, LivetapeError

WEB = Path(__file__).resolve().parent.parent / "web"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8", ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# revalidate every time (a 304 when unchanged): a new livetape version serves a new SDK at
# the same URL
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def conditional(request: Request, response: FileResponse) -> Response:
    """``response``, or 304 Not Modified when the request's validators match its ETag or
    Last-Modified: Starlette's StaticFiles rules (RFC 9110 13.1: If-None-Match wins over
    If-Modified-Since; an unparseable date serves the file) and its 304 (Cache-Control and
    ETag kept). ``response`` must have been given its file's ``stat_result``."""
    # StaticFiles(check_dir=False) holds no folder: it only lends its conditional check
    if StaticFiles(check_dir=False).is_not_modified(response.headers, request.headers):
        return NotModifiedResponse(response.headers)
    return response


def folder_file(folder: Path, name: str) -> Path:
    """A file directly in ``folder`` (the path parameter holds no '/'), not hidden, of a type
    served here; 10008 otherwise."""
    path = folder / name
    if name.startswith(".") or path.suffix not in CONTENT_TYPES or not path.is_file():
        raise LivetapeError(Catalogue.NOT_FOUND, f"no file {name!r} in /{folder.name}/")
    return path


def static_file(request: Request, path: Path, headers: Mapping[str, str] = HEADERS) -> Response:
    """A static file of the package with ``headers``, or 304 when the browser has it."""
    response = FileResponse(path, media_type=CONTENT_TYPES[path.suffix], headers=headers,
                            stat_result=path.stat())
    return conditional(request, response)
