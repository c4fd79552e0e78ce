"""Serving through nginx's ``secure_link`` module: a 302 to a link nginx checks itself.

The local-storage twin of the S3 redirect (:mod:`livetape.api.object_responses`). With
``LIVETAPE_NGINX_SECURE_LINK_SECRET`` set, a GET that passed every check of
:meth:`livetape.playback.playback_service.PlaybackService.open` and may have the whole object
(no trial cut, not a playlist rewritten for a grant) is answered with a 302 to
``<LIVETAPE_NGINX_SECURE_LINK_PREFIX><storage key>?md5=<m>&expires=<t>``, where ``t`` is the
link's end (``LIVETAPE_NGINX_SECURE_LINK_SECONDS`` from now, Unix seconds) and ``m`` the
unpadded base64url MD5 of ``"<t><prefix><key> <secret>"``: what nginx's
``secure_link_md5 "$secure_link_expires$uri <secret>"`` computes (``$uri`` is the decoded
path). nginx refuses (403) a link that was changed or has expired and sends the file from
the storage folder, doing Range, 206, If-Range and 304 itself; a player keeps sending its
later ranges to that link, so livetape answers about one request per viewer and link life.

livetape still answers what is its own: errors, trial cuts and signed playlists, HEAD (a
player never needs to follow it) and a malformed or unsatisfiable ``Range`` (416). The bytes
asked for are counted as the app's traffic (:data:`livetape.billing.traffic.ACCEL_BYTES`),
as for the S3 redirect: nginx's own answers are never seen.
"""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from livetape.api.accel import nginx_validators, not_modified
from livetape.api.object_responses import REDIRECT_HEADERS
from livetape.api.ranges import requested_ranges
from livetape.billing.traffic import ACCEL_BYTES
from livetape.config import Settings
from livetape.playback.playable import Playable


def secure_link(prefix: str, key: str, secret: str, expires: int) -> str:
    """The path and query nginx's ``secure_link`` accepts for ``key`` until ``expires``."""
    path = prefix + key
    digest = hashlib.md5(f"{expires}{path} {secret}".encode(), usedforsecurity=False).digest()
    md5 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{quote(path, safe='/')}?md5={md5}&expires={expires}"


def secure_link_response(request: Request, playable: Playable, settings: Settings,
                         key: str) -> Response | None:
    """The 302 to nginx's secure link of ``playable`` (storage key ``key``), or None when
    livetape serves it itself (mode off, HEAD, a trial cut, a generated body). Raises 416
    for a Range nginx could not serve."""
    secret, stat = settings.nginx_secure_link_secret, playable.stat
    if secret is None or request.method != "GET" or playable.playlist is not None \
            or playable.last_byte is not None or stat is None:
        return None
    etag, modified = nginx_validators(stat)
    ranges = requested_ranges(request, stat.st_size, (etag, modified))
    if not_modified(request, etag, int(stat.st_mtime)):
        sent = 0  # nginx will answer 304
    elif ranges is None:
        sent = stat.st_size
    else:  # nginx sends the whole object when the parts add up to more than it
        sent = min(sum(last - first + 1 for first, last in ranges), stat.st_size)
    expires = int(time.time()) + settings.nginx_secure_link_seconds
    url = secure_link(settings.nginx_secure_link_prefix, key, secret, expires)
    return RedirectResponse(url, status_code=302,
                            headers={**REDIRECT_HEADERS, ACCEL_BYTES: str(sent)})
