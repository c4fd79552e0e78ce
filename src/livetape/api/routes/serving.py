"""Serving library objects: MP4s, HLS playlists and segments, images.

Every object answers Range (206), HEAD, conditional GET (ETag / Last-Modified -> 304) and
CORS. Files stream from storage; nothing holds a whole media file in memory (playlists,
a few KB, are read to sign the URIs they list). Whether a request may have an object, and
how much of it (signed URLs, trials, suspension), is the playback service's decision
(:mod:`livetape.playback.playback_service`); this router turns its answer into HTTP: a
playlist signed for the grant, or the file through Starlette's ``FileResponse`` with the
ranges :mod:`livetape.api.ranges` accepted, cut at a trial's last byte, or, behind nginx
with ``LIVETAPE_ACCEL_REDIRECT``, an ``X-Accel-Redirect`` to it (:mod:`livetape.api.accel`),
or with ``LIVETAPE_NGINX_SECURE_LINK_SECRET`` a 302 to an nginx secure link
(:mod:`livetape.api.secure_links`).
On S3 the answer is a 302 to a presigned URL, or the object streamed from the store where
livetape must cut it (:mod:`livetape.api.object_responses`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from livetape.api.accel import accel_response
from livetape.api.deps import services
from livetape.api.object_responses import redirect_response, streamed_response
from livetape.api.openapi import raises, served
from livetape.api.ranges import RangedFileResponse, requested_ranges
from livetape.api.secure_links import secure_link_response
from livetape.api.static_files import conditional
from livetape.errors import Catalogue
from livetape.library.files import object_key
from livetape.playback.playback_service import MEDIA_TYPES, OTHER_TYPE

router = APIRouter(tags=["media"])

CACHE = {"Cache-Control": "public, max-age=3600"}
CHUNK = 256 * 1024  # bytes per read: Starlette's 64 KiB cost a thread hop per 64 KiB
_TYPES = {*MEDIA_TYPES.values(), OTHER_TYPE}


@router.head("/media/{app_id}/{file_id}/{path:path}", operation_id="head_media",
             summary="An object's headers (size, type, ranges)", response_class=Response,
             responses=served(_TYPES))
@router.get("/media/{app_id}/{file_id}/{path:path}", operation_id="get_media",
            summary="Download or play an object of a file (Range supported; signed URLs)",
            response_class=Response, responses=served(_TYPES))
@raises(Catalogue.NOT_FOUND, Catalogue.PLAY_FORBIDDEN, Catalogue.PLAYBACK_SUSPENDED,
        Catalogue.STORAGE_UNAVAILABLE)
async def media(app_id: str, file_id: str, path: str, request: Request) -> Response:
    svc = services(request)
    playable = await svc.playback.open(
        app_id, file_id, path, request.url.path, dict(request.query_params),
        request.client.host if request.client else "", head=request.method == "HEAD")
    if playable.elsewhere is not None:  # a cluster: it waits in another node's spool
        return RedirectResponse(playable.elsewhere, status_code=307)
    if playable.playlist is not None:
        return _bytes_response(request, playable.playlist, playable.media_type)
    if playable.redirect is not None:  # S3: the store serves it
        return redirect_response(request, playable)
    if playable.path is None or playable.stat is None:  # S3: through livetape (trials, HEAD)
        return streamed_response(request, playable, CACHE)
    key = object_key(app_id, file_id, path)  # open() refused the paths it is None for
    if key is not None and not svc.library.storage.pending(key):  # nginx sends the bytes:
        if (link := secure_link_response(request, playable, svc.settings, key)) is not None:
            return link  # a 302 to its secure link (LIVETAPE_NGINX_SECURE_LINK_SECRET)
        if (accel := accel_response(request, playable, svc.settings.accel_redirect, key,
                                    CACHE)) is not None:
            return accel  # X-Accel-Redirect (LIVETAPE_ACCEL_REDIRECT; not the spool's)
    response = RangedFileResponse(playable.path, None, media_type=playable.media_type,
                                  stat_result=playable.stat, headers=CACHE)
    response.chunk_size = CHUNK
    answer = conditional(request, response)  # If-None-Match is evaluated before Range
    if answer is response:
        validators = (response.headers["etag"], response.headers["last-modified"])
        response.ranges = playable.clip(
            requested_ranges(request, playable.stat.st_size, validators))
    return answer


def _bytes_response(request: Request, body: bytes, media_type: str) -> Response:
    """A small generated body (a signed playlist) with single-range support."""
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
    size = len(body)
    ranges = requested_ranges(request, size)  # no validators: If-Range sends it whole
    if ranges is not None and len(ranges) == 1:
        start, end = ranges[0]
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Response(body[start:end + 1], status_code=206, media_type=media_type,
                        headers=headers)
    return Response(body, media_type=media_type, headers=headers)
