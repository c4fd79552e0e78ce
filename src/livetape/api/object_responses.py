"""Responses for library objects that are not local files (S3): a 302 to a presigned URL
(its bytes noted for the traffic meter), or the object streamed from storage with ranges
(206/416) and conditional requests (304), as local files are served
(:mod:`livetape.api.routes.serving`). Nothing is held whole in memory: the stream reads
``CHUNK`` bytes at a time from the store."""

from __future__ import annotations

from email.utils import formatdate

from fastapi import Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import Headers
from starlette.staticfiles import NotModifiedResponse, StaticFiles

from livetape.api.ranges import requested_ranges
from livetape.billing.traffic import ACCEL_BYTES
from livetape.playback.playable import Playable

CHUNK = 256 * 1024
# the Location expires (LIVETAPE_S3_PRESIGN_SECONDS): nobody may keep the redirect
REDIRECT_HEADERS = {"Cache-Control": "private, no-store"}


def redirect_response(request: Request, playable: Playable) -> Response:
    """302 to the presigned URL (304 when the client has the object: the validators are the
    store's own); the client sends its Range there. The bytes it asks for
    (its ranges, else the whole object; an unsatisfiable Range answers 416 here, as the
    store would) are noted for the traffic meter, which never sees them go."""
    assert playable.redirect is not None and playable.info is not None
    validators = _validators(playable)
    if StaticFiles(check_dir=False).is_not_modified(Headers(validators), request.headers):
        return NotModifiedResponse(Headers({**validators, **REDIRECT_HEADERS}))
    ranges = requested_ranges(request, playable.info.size)
    asked = playable.info.size if ranges is None else sum(b - a + 1 for a, b in ranges)
    counted = 0 if request.method == "HEAD" else asked  # HEAD is answered, never redirected
    return RedirectResponse(playable.redirect, status_code=302,
                            headers={**REDIRECT_HEADERS, ACCEL_BYTES: str(counted)})


def streamed_response(request: Request, playable: Playable,
                      cache: dict[str, str]) -> Response:
    """The object (or the ranges asked for, cut at a trial's end) streamed from storage."""
    info, body = playable.info, playable.body
    assert info is not None and body is not None
    headers = {**cache, "Accept-Ranges": "bytes", **_validators(playable)}
    if StaticFiles(check_dir=False).is_not_modified(Headers(headers), request.headers):
        return NotModifiedResponse(Headers(headers))
    validators = (headers["ETag"], headers["Last-Modified"])
    ranges = playable.clip(requested_ranges(request, info.size, validators))
    status, first, last = 200, 0, info.size - 1
    if ranges is not None and len(ranges) == 1:  # several parts: the whole object
        status, (first, last) = 206, ranges[0]
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    headers["Content-Length"] = str(last - first + 1)
    if request.method == "HEAD" or last < first:
        return Response(status_code=status, headers=headers, media_type=playable.media_type)
    return StreamingResponse(body(first, last, CHUNK), status_code=status, headers=headers,
                             media_type=playable.media_type)


def _validators(playable: Playable) -> dict[str, str]:
    """The object's ETag (the store's own) and Last-Modified."""
    assert playable.info is not None
    return {"ETag": playable.info.etag,
            "Last-Modified": formatdate(playable.info.mtime, usegmt=True)}
