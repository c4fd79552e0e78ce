"""Byte ranges (RFC 9110 section 14): which parts of an object a GET asks for.

Starlette's :class:`FileResponse` serves ranges itself (one as 206, several as
multipart/byteranges, If-Range against its ETag and Last-Modified, HEAD), and livetape lets
it. What Starlette does not do as livetape answers is the reading of the header, so that part
stays here: Starlette answers a malformed Range 400 in plain text (livetape: 416 with the
catalogue's body, code 1007, and ``Content-Range: bytes */SIZE``), refuses a unit other than
bytes (RFC 9110 says to ignore it: the whole object), answers 416 when any part starts past
the end (livetape serves the parts that overlap the object, 416 only when none does). So
:func:`parse_ranges` reads the header first; the ranges it accepts (cut further by a trial:
:meth:`livetape.playback.playback_service.Playable.clip`) are handed to Starlette rewritten
in canonical form (:class:`RangedFileResponse`), so Starlette never meets a header it would
refuse. Conditional requests (304) follow Starlette's StaticFiles rules
(:func:`livetape.api.static_files.conditional`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse
from starlette.types import Receive, Scope, Send

from livetape.errors import Catalogue, LivetapeError

MAX_RANGES = 100  # more parts than this: the whole object (as Starlette does)
_SPEC = re.compile(r"(\d{1,19})-(\d{0,19})|-(\d{1,19})", re.ASCII)  # 19 digits: past any file

Ranges = list[tuple[int, int]]  # inclusive (first, last) byte positions


def unsatisfiable(size: int, detail: str) -> LivetapeError:
    return LivetapeError(Catalogue.RANGE_NOT_SATISFIABLE, detail,
                         headers={"Content-Range": f"bytes */{size}"})


def parse_ranges(value: str, size: int) -> Ranges | None:
    """The parts of ``size`` bytes a ``Range`` value asks for, in the order asked; None to
    serve the whole object (a unit other than bytes, which RFC 9110 says to ignore, or more
    than MAX_RANGES parts). Parts past the end are dropped; raises 416 when the value is
    malformed (a part that is not FIRST-[LAST] or -SUFFIX, LAST before FIRST) or when no
    part is left."""
    unit, equals, spec = value.partition("=")
    if equals and unit.strip().lower() != "bytes":
        return None
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if not equals or not parts:
        raise unsatisfiable(size, f"malformed Range {value[:100]!r}")
    if len(parts) > MAX_RANGES:
        return None
    ranges: Ranges = []
    for part in parts:
        match = _SPEC.fullmatch(part)
        if match is None:
            raise unsatisfiable(size, f"malformed range {part[:100]!r}")
        first, last, suffix = match.groups()
        if suffix is not None:
            if int(suffix) > 0 and size > 0:
                ranges.append((max(size - int(suffix), 0), size - 1))
            continue
        if last and int(last) < int(first):
            raise unsatisfiable(size, f"range {part!r} ends before it starts")
        if int(first) < size:
            ranges.append((int(first), min(int(last), size - 1) if last else size - 1))
    if not ranges:
        raise unsatisfiable(size, f"no part of {value[:100]!r} is within the {size} bytes")
    return ranges


def requested_ranges(
    request: Request, size: int, validators: tuple[str, ...] = ()
) -> Ranges | None:
    """The ranges a GET or HEAD asks for, None for the whole object. ``If-Range`` must equal
    one of ``validators`` (the strong ETag, the Last-Modified date) or the whole object is
    sent, as RFC 9110 13.1.5 says: it changed since the client's first part."""
    value = request.headers.get("range")
    if value is None or request.method not in ("GET", "HEAD"):
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and (if_range.startswith("W/") or if_range not in validators):
        return None
    return parse_ranges(value, size)


class RangedFileResponse(FileResponse):
    """A file served as ``ranges`` (checked beforehand), or whole when None, whatever Range
    and If-Range the request carried."""

    def __init__(self, path: Path, ranges: Ranges | None, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.ranges = ranges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]
        if self.ranges:
            spec = ",".join(f"{first}-{last}" for first, last in self.ranges)
            headers.append((b"range", f"bytes={spec}".encode()))
        await super().__call__({**scope, "headers": headers}, receive, send)
