"""Serving through nginx: ``X-Accel-Redirect`` answers for local media files.

With ``LIVETAPE_ACCEL_REDIRECT`` set (e.g. ``/internal/``), a media request that passed every
check of :meth:`livetape.playback.playback_service.PlaybackService.open` and may have the
whole object (no trial cut, not a playlist rewritten for a grant) is answered with an empty
body and ``X-Accel-Redirect: <prefix><storage key>`` (URL-encoded); nginx then sends the file
from its ``internal`` location aliased to the storage folder, doing Range, 206, If-Range and
304 itself, with its own ``ETag`` and ``Last-Modified`` (of the same file). Of livetape's
headers nginx keeps ``Content-Type`` and ``Cache-Control`` on such an answer; the CORS
headers it drops are added back by the example configuration (README, Deploying).

livetape still answers what is its own: errors (with the catalogue's body), trial cuts and
signed playlists (served by the route itself), and a malformed or unsatisfiable ``Range``
(416, code 1007, checked here before nginx is asked: the same parse as direct serving).
The bytes nginx is asked to send are counted as the app's traffic
(:data:`livetape.billing.traffic.ACCEL_BYTES`): the whole object or the ranges asked for,
nothing for HEAD or when nginx will answer 304.
"""

from __future__ import annotations

import os
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from livetape.api.ranges import requested_ranges
from livetape.billing.traffic import ACCEL_BYTES
from livetape.playback.playback_service import Playable


def accel_response(request: Request, playable: Playable, prefix: str | None, key: str,
                   headers: dict[str, str]) -> Response | None:
    """The answer handing ``playable`` (storage key ``key``) to nginx under ``prefix``, or
    None when livetape must serve it itself (mode off, a trial cut, a generated body).
    ``headers`` (Cache-Control) go with it; raises 416 for a Range nginx could not serve."""
    stat = playable.stat  # None: not a local file (S3: redirected or streamed instead)
    if prefix is None or playable.playlist is not None or playable.last_byte is not None \
            or stat is None:
        return None
    etag, modified = nginx_validators(stat)
    ranges = requested_ranges(request, stat.st_size, (etag, modified))
    if request.method == "HEAD" or not_modified(request, etag, int(stat.st_mtime)):
        sent = 0
    elif ranges is None:
        sent = stat.st_size
    else:  # nginx sends the whole object when the parts add up to more than it
        sent = min(sum(last - first + 1 for first, last in ranges), stat.st_size)
    return Response(b"", media_type=playable.media_type, headers={
        **headers, "X-Accel-Redirect": prefix + quote(key, safe="/"), ACCEL_BYTES: str(sent)})


def nginx_validators(stat: os.stat_result) -> tuple[str, str]:
    """The ``ETag`` and ``Last-Modified`` nginx gives a file: ``"<mtime hex>-<size hex>"``
    and the HTTP date of its whole-second mtime."""
    mtime = int(stat.st_mtime)
    return f'"{mtime:x}-{stat.st_size:x}"', formatdate(mtime, usegmt=True)


def not_modified(request: Request, etag: str, mtime: int) -> bool:
    """Whether nginx answers 304: If-None-Match lists its ETag (weakly compared) or ``*``;
    without it, If-Modified-Since is exactly the file's time (nginx's default)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return int(parsedate_to_datetime(since).timestamp()) == mtime
    except (TypeError, ValueError):
        return False
