"""The web console: its page (``/console``), its static files, and signing in and out.

Signing in (``POST /console/session``, a form or JSON with ``app_id`` and ``secret_key``)
sets an HttpOnly, SameSite=Strict cookie holding a console session (see
:mod:`livetape.auth.console_sessions`); the page's JavaScript then calls the JSON API (``/v1/...``)
with that cookie and the ``X-Livetape-Console: 1`` header instead of the secret key, which
never reaches the page's source, its storage or a URL.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import Field

from livetape.api.deps import CONSOLE_COOKIE, console_sessions, services
from livetape.api.envelope import Envelope, Ok
from livetape.api.openapi import raises
from livetape.api.static_files import HEADERS, WEB, folder_file, static_file
from livetape.bounds import Input
from livetape.errors import Catalogue, LivetapeError

router = APIRouter(tags=["console"])

CONSOLE = WEB / "console"
# third-party scripts fetched at install time, not in git (`make vendor`: hls.js); may be absent
VENDOR = CONSOLE / "vendor"
# The console runs only its own scripts and styles (hls.js included: it is served from
# vendor/) and talks only to this server; play URLs and images may live elsewhere
# (LIVETAPE_PUBLIC_URL, a CDN). Framing is refused (its buttons delete files). For HLS
# through hls.js: media-src blob: (there already) lets the <video> play its MediaSource;
# worker-src blob: lets it run its transmuxer (MPEG-TS to fragmented MP4) in a worker made
# from its own code (a blob: URL, which only a script already allowed can make; without it
# Chromium blocks the worker and logs a violation); connect-src adds the public URL's origin
# because hls.js fetches the playlists and segments itself (a plain <video> needs no
# connect-src).
CSP = ("default-src 'self'; img-src * data:; media-src * blob:; worker-src blob:; "
       "connect-src 'self'{public}; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
PAGE_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": CSP.format(public=""),
    "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
}
NO_STORE = {"Cache-Control": "no-store"}
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]+)?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]+)?")


def _page_headers(public_url: str | None) -> dict[str, str]:
    """PAGE_HEADERS, with the origin of LIVETAPE_PUBLIC_URL (where play URLs point) allowed
    for fetches when one is set (and looks like one: nothing else gets into the header)."""
    if not public_url:
        return PAGE_HEADERS
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if not _ORIGIN.fullmatch(origin):
        return PAGE_HEADERS
    return {**PAGE_HEADERS, "Content-Security-Policy": CSP.format(public=f" {origin}")}


class SignIn(Input):
    """The app's credentials, exactly as a server call would use them."""

    app_id: str = Field(min_length=1, max_length=64)
    secret_key: str = Field(min_length=1, max_length=256)


class SignedIn(Envelope):
    """Signed in (a JSON sign-in; a form is redirected to the console)."""

    app_id: str
    expires_in: int = Field(description="seconds the session lasts")


def _absent(value: object) -> bool:
    return value is None


class SessionState(Envelope):
    """Whether this browser is signed in; the session's app and expiry when it is, why not
    when its cookie no longer holds (keys left out otherwise)."""

    signed_in: bool
    reason: str | None = Field(default=None, exclude_if=_absent,
                               description="why the cookie sent is no session (any more)")
    app_id: str | None = Field(default=None, exclude_if=_absent)
    expire_time: str | None = Field(default=None, exclude_if=_absent, description="ISO 8601")


@router.get("/console", include_in_schema=False)
async def console_page(request: Request) -> Response:
    return static_file(request, CONSOLE / "console.html",
                       _page_headers(services(request).settings.public_url))


async def _credentials(request: Request) -> tuple[SignIn, bool]:
    """The form or JSON body, and whether it was a form; the secret is refused in a URL (it
    would land in logs and the browser's history)."""
    if {"secret_key", "app_id"} & set(request.query_params):
        raise LivetapeError(Catalogue.INVALID_PARAMETER, "credentials in the URL are refused",
                            hint="POST them in the body (a form or JSON)")
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_form = kind == "application/x-www-form-urlencoded"
    try:
        if is_form:
            form = parse_qs(raw.decode(), keep_blank_values=True)
            fields: Any = {k: v[0] for k, v in form.items() if k in ("app_id", "secret_key")}
        else:
            fields = json.loads(raw or b"null")
        return SignIn.model_validate(fields), is_form
    # pydantic's ValidationError and UnicodeDecodeError are ValueErrors; JSON nested deeper
    # than the parser goes is a RecursionError
    except (ValueError, RecursionError) as exc:
        raise LivetapeError(Catalogue.INVALID_PARAMETER,
                            "send app_id and secret_key as a form or JSON") from exc


def _same_origin(request: Request) -> None:
    """Refuse sign-ins posted by pages of other origins (login CSRF). ``Origin: null`` is one:
    browsers send it from sandboxed frames, ``data:`` and ``file:`` pages and after
    cross-origin redirects, never from the console's page (its Referrer-Policy is
    same-origin). Callers that are not browsers send no Origin and are let through."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise LivetapeError(Catalogue.UNAUTHORIZED,
                            f"sign in from the console's own page (Origin: {origin[:100]})",
                            hint="open /console on this server")


_SIGN_IN_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": SignIn.model_json_schema()},
    "application/x-www-form-urlencoded": {"schema": SignIn.model_json_schema()},
}}}


@router.post("/console/session", summary="Sign in to the web console (sets its cookie)",
             openapi_extra=_SIGN_IN_DOC, response_model=SignedIn,
             responses={303: {"description": "a form: to /console, signed in"}})
@raises(Catalogue.INVALID_PARAMETER, Catalogue.UNAUTHORIZED)
async def sign_in(request: Request, response: Response) -> Response | SignedIn:
    """Checks the key like a server call does (1001 when wrong), then sets the session
    cookie (``LIVETAPE_CONSOLE_SESSION_SECONDS``). A form post is redirected to the
    console; JSON gets ``{"app_id", "expires_in"}``."""
    _same_origin(request)
    credentials, is_form = await _credentials(request)
    sessions = console_sessions(request)
    token = await sessions.sign_in(credentials.app_id, credentials.secret_key)
    # a form's redirect is answered as it is; JSON's headers and cookie go on ``response``
    answer = RedirectResponse("/console", status_code=303, headers=NO_STORE) if is_form \
        else response
    answer.headers.update(NO_STORE)
    answer.set_cookie(
        CONSOLE_COOKIE, token, max_age=sessions.ttl_seconds, path="/", httponly=True,
        samesite="strict", secure=request.url.scheme == "https",
    )
    if is_form:
        return answer
    return SignedIn(app_id=credentials.app_id, expires_in=sessions.ttl_seconds)


@router.delete("/console/session", summary="Sign out of the web console (clears its cookie)")
async def sign_out(request: Request, response: Response) -> Ok:
    response.headers.update(NO_STORE)
    response.delete_cookie(CONSOLE_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return Ok()


@router.get("/console/session", summary="Whether this browser is signed in to the console")
async def session_state(request: Request, response: Response) -> SessionState:
    """``{"signed_in": false}``, or true with the session's ``app_id`` and ``expire_time``
    (the page asks this first: no failed API call when nobody is signed in)."""
    response.headers.update(NO_STORE)
    token = request.cookies.get(CONSOLE_COOKIE)
    if not token:
        return SessionState(signed_in=False)
    try:
        who, expires = await console_sessions(request).check(token)
    except LivetapeError as exc:
        return SessionState(signed_in=False, reason=exc.detail)
    return SessionState(signed_in=True, app_id=who.app_id,
                        expire_time=datetime.fromtimestamp(expires, UTC).isoformat())


@router.get("/console/{name}", include_in_schema=False)
async def console_asset(name: str, request: Request) -> Response:
    return static_file(request, folder_file(CONSOLE, name), PAGE_HEADERS)


@router.get("/console/vendor/{name}", include_in_schema=False)
async def console_vendor(name: str, request: Request) -> Response:
    """hls.js (``vendor/hls.light.min.js``) when ``make vendor`` fetched it; 404 otherwise,
    and the console then plays HLS only where the browser does by itself."""
    return static_file(request, folder_file(VENDOR, name), PAGE_HEADERS)
