"""Serving library objects: MP4s, HLS playlists and segments, images.

Every object answers Range (206), HEAD, conditional GET (ETag / Last-Modified -> 304) and
CORS. Files stream from storage; nothing holds a whole media file in memory (playlists,
a few KB, are read to sign the URIs they list). For apps that sign play URLs, every
request is checked (:mod:`livetape.playback.signing`); a playlist fetched with a valid grant
lists its variants and segments signed under the same grant, so players need nothing
special. A trial grant (``exper`` seconds) serves MP4 bytes only up to the end of that
time (later ranges answer 403, a range crossing it is cut short) and HLS playlists only
up to the segment that contains it (later segments answer 403).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from livetape.api.deps import Services, services
from livetape.api.openapi import raises, served
from livetape.api.ranges import RangedFileResponse, requested_ranges
from livetape.db.models import FileStatus
from livetape.errors import Catalogue, LivetapeError
from livetape.library.files import object_key
from livetape.playback.playlists import rewrite_playlist, segment_start
from livetape.playback.signing import Grant
from livetape.storage import InvalidKey

router = APIRouter(tags=["media"])

CONTENT_TYPES = {
    ".mp4": "video/mp4", ".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t",
    ".jpg": "image/jpeg", ".png": "image/png",
}
CACHE = {"Cache-Control": "public, max-age=3600"}
CHUNK = 256 * 1024  # bytes per read: Starlette's 64 KiB cost a thread hop per 64 KiB


@router.head("/media/{app_id}/{file_id}/{path:path}", operation_id="head_media",
             summary="An object's headers (size, type, ranges)", response_class=Response,
             responses=served({*CONTENT_TYPES.values(), "application/octet-stream"}))
@router.get("/media/{app_id}/{file_id}/{path:path}", operation_id="get_media",
            summary="Download or play an object of a file (Range supported; signed URLs)",
            response_class=Response,
            responses=served({*CONTENT_TYPES.values(), "application/octet-stream"}))
@raises(Catalogue.NOT_FOUND, Catalogue.PLAY_FORBIDDEN, Catalogue.PLAYBACK_SUSPENDED)
async def media(app_id: str, file_id: str, path: str, request: Request) -> Response:
    svc = services(request)
    key = object_key(app_id, file_id, path)  # before the database or the disk is asked
    if key is None:
        raise LivetapeError(Catalogue.NOT_FOUND, f"no object {path[:100]!r} for file "
                            f"{file_id[:100]!r}", hint="use a URL from play info")
    status = await svc.lookup.file_status(app_id, file_id)
    try:
        local = svc.library.storage.local_path(key)
    except InvalidKey:  # a link inside the storage folder that points out of it
        local = None
    if status is None or not FileStatus(status).playable or local is None:
        raise LivetapeError(Catalogue.NOT_FOUND, f"no object {path!r} for file {file_id!r}")
    signing = await svc.lookup.signing(app_id)
    grant: Grant | None = None
    if signing is not None and signing.required:
        client = request.client.host if request.client else ""
        grant = svc.guard.check(signing.key, request.url.path,
                                dict(request.query_params), client)
    if svc.settings.billing_enforce:
        await _not_suspended(svc, app_id)
    suffix = os.path.splitext(path)[1].lower()
    media_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
    trial = grant.trial_seconds if grant is not None else 0
    stat = os.stat(local)  # one syscall on a local file: cheaper than a thread hop
    if suffix == ".m3u8" and grant is not None:
        text = await asyncio.to_thread(local.read_text)
        body = rewrite_playlist(text, request.url.path, signing.key if signing else "", grant)
        return _bytes_response(request, body.encode(), media_type)
    if trial and suffix == ".ts":
        playlist = local.parent / "index.m3u8"
        start = await asyncio.to_thread(segment_start, playlist, local.name)
        if start is None or start >= trial:
            raise LivetapeError(Catalogue.PLAY_FORBIDDEN,
                                f"past the {trial} s trial: this segment starts later")
    cut: tuple[int, int] | None = None
    if trial and suffix == ".mp4":
        limit = await asyncio.to_thread(svc.trials.trial_bytes, local, trial)
        cut = (0, limit - 1)
    response = RangedFileResponse(local, None, media_type=media_type, stat_result=stat,
                                  headers=dict(CACHE))
    response.chunk_size = CHUNK
    etag, modified = response.headers["etag"], response.headers["last-modified"]
    if _not_modified(request, etag, modified):
        kept = ("etag", "last-modified", "cache-control")
        return Response(status_code=304, headers={k: response.headers[k] for k in kept})
    response.ranges = requested_ranges(request, stat.st_size, (etag, modified))
    if cut is not None:  # a trial: one range, ending at the trial's last byte
        start, end = response.ranges[0] if response.ranges and len(response.ranges) == 1 else cut
        if start > cut[1]:
            raise LivetapeError(Catalogue.PLAY_FORBIDDEN,
                                f"past the {trial} s trial (bytes from {cut[1] + 1} on)")
        response.ranges = [(start, min(end, cut[1]))]
    return response


async def _not_suspended(svc: Services, app_id: str) -> None:
    """Playback stops once the balance has been at or below zero past the grace period."""
    since = await svc.lookup.overdue_since(app_id)
    grace = svc.settings.billing_playback_grace_seconds
    if since is not None and (datetime.now(UTC) - since).total_seconds() > grace:
        raise LivetapeError(Catalogue.PLAYBACK_SUSPENDED,
                            f"the balance has been at or below zero since {since.isoformat()} "
                            f"(grace {grace:g} s)")


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
