"""Range parsing (pure: no server): which parts of an object a GET asks for, the 416 answers
(catalogue code 1007, ``Content-Range: bytes */SIZE``), If-Range, and the canonical ranges
handed to Starlette's FileResponse (run as ASGI here, on a real file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import Request

from livetape.api.ranges import RangedFileResponse, parse_ranges, requested_ranges
from livetape.errors import LivetapeError


def refused(value: str, size: int) -> LivetapeError:
    with pytest.raises(LivetapeError) as caught:
        parse_ranges(value, size)
    assert caught.value.code == 1007, value
    assert caught.value.headers["Content-Range"] == f"bytes */{size}", value
    return caught.value


def test_range_parsing() -> None:  # (moved from tests/recorder/test_media_edges.py)
    assert parse_ranges("bytes=0-0", 10) == [(0, 0)]
    assert parse_ranges("bytes=-3", 10) == [(7, 9)]
    assert parse_ranges("bytes=-30", 10) == [(0, 9)]
    assert parse_ranges("bytes=8-", 10) == [(8, 9)]
    assert parse_ranges("BYTES = 1-2 , ,3-4", 10) == [(1, 2), (3, 4)]
    assert parse_ranges("bytes=" + ",".join(["0-1"] * 101), 10) is None
    assert parse_ranges("lines=1-2", 10) is None
    for bad in ("bytes=10-", "bytes=-1", "bytes=0-", "0-1", "bytes=a-b", "bytes=,"):
        refused(bad, 10 if bad not in ("bytes=-1", "bytes=0-") else 0)


def test_malformed() -> None:
    assert parse_ranges("=0-1", 100) is None  # an empty unit is not bytes: ignored
    for bad in ("bytes=", "bytes", "bytes=1", "bytes=--1", "bytes=1-2-3",
                "bytes=0x1-2", "bytes=+1-2", "bytes=1 -2", "bytes=\u0661-2",
                "bytes=" + "9" * 20 + "-"):
        assert "malformed" in refused(bad, 100).detail, bad
    assert "ends before it starts" in refused("bytes=5-4", 100).detail
    # one bad part spoils the header, even beside good ones
    assert "malformed" in refused("bytes=0-1,x", 100).detail


def test_suffix_and_past_the_end() -> None:
    assert parse_ranges("bytes=-1", 100) == [(99, 99)]
    assert parse_ranges("bytes=-100", 100) == [(0, 99)]
    assert parse_ranges("bytes=90-1000", 100) == [(90, 99)]  # clamped to the end
    assert parse_ranges("bytes=99-99", 100) == [(99, 99)]
    assert "within the 100 bytes" in refused("bytes=100-", 100).detail
    assert "within the 100 bytes" in refused("bytes=-0", 100).detail
    assert "within the 0 bytes" in refused("bytes=-5", 0).detail  # nothing in an empty file


def test_several_parts() -> None:
    # in the order asked; parts past the end dropped while one is left
    assert parse_ranges("bytes=50-59,0-9", 100) == [(50, 59), (0, 9)]
    assert parse_ranges("bytes=0-9,200-,-5", 100) == [(0, 9), (95, 99)]
    assert parse_ranges("bytes=0-9,200-300", 100) == [(0, 9)]
    assert parse_ranges("bytes=" + ",".join(["0-1"] * 100), 10) == [(0, 1)] * 100
    refused("bytes=100-,200-", 100)


def request(headers: dict[str, str], method: str = "GET") -> Request:
    scope: dict[str, Any] = {
        "type": "http", "method": method, "path": "/media/x", "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope)


def test_requested_ranges() -> None:
    etag, modified = '"abc"', "Mon, 01 Jan 2024 00:00:00 GMT"
    validators = (etag, modified)
    assert requested_ranges(request({}), 100, validators) is None
    assert requested_ranges(request({"Range": "bytes=0-9"}), 100) == [(0, 9)]
    assert requested_ranges(request({"Range": "bytes=0-9"}, "HEAD"), 100) == [(0, 9)]
    assert requested_ranges(request({"Range": "bytes=0-9"}, "POST"), 100) is None
    for if_range, expected in ((etag, [(0, 9)]), (modified, [(0, 9)]), ('"other"', None),
                               (f"W/{etag}", None)):
        asked = request({"Range": "bytes=0-9", "If-Range": if_range})
        assert requested_ranges(asked, 100, validators) == expected, if_range
    # a stale If-Range sends the whole object: an unsatisfiable range is not refused
    stale = request({"Range": "bytes=500-", "If-Range": '"other"'})
    assert requested_ranges(stale, 100, validators) is None
    with pytest.raises(LivetapeError):
        requested_ranges(request({"Range": "bytes=500-", "If-Range": etag}), 100, validators)


async def served(path: Path, ranges: list[tuple[int, int]] | None,
                 headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Run a RangedFileResponse as Starlette would, for a request with ``headers``."""
    scope: dict[str, Any] = {
        "type": "http", "method": "GET", "path": "/media/x", "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "asgi": {"spec_version": "2.4"},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await RangedFileResponse(path, ranges, media_type="video/mp4")(scope, receive, send)
    start = sent[0]
    answer = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer, b"".join(m.get("body", b"") for m in sent[1:])


async def test_ranged_file_response_serves_the_checked_ranges(tmp_path: Path) -> None:
    path = tmp_path / "f0.mp4"
    data = bytes(range(256)) * 4
    path.write_bytes(data)
    # the request's own Range and If-Range are replaced by the ranges given
    status, headers, body = await served(path, [(10, 19)], {"Range": "bytes=junk",
                                                            "If-Range": '"x"'})
    assert (status, body) == (206, data[10:20])
    assert headers["content-range"] == f"bytes 10-19/{len(data)}"
    status, _, body = await served(path, None, {"Range": "bytes=0-9"})
    assert (status, body) == (200, data)  # None: the whole file, whatever was asked
    status, headers, body = await served(path, [(0, 9), (100, 109)], {})
    assert status == 206 and headers["content-type"].startswith("multipart/byteranges")
    assert data[0:10] in body and data[100:110] in body
