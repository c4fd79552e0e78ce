"""The file server against hostile URLs and headers: paths that try to leave the storage
folder (sent raw: clients would normalise ``..``), folders, NUL; Range errors with the
catalogue's body; and which address ``rlimit`` counts (X-Forwarded-For only from
LIVETAPE_TRUSTED_PROXIES)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.config import Settings
from livetape_harness.flow import record_all_of
from livetape_harness.server import LiveServer, ServerFactory


def raw_request(server: LiveServer, path: str, method: str = "GET",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request with ``path`` sent byte for byte as given (http.client does not touch it)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()  # the whole body, as announced: a dropped connection raises
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def catalogued(status: int, headers: dict[str, str], body: bytes, code: int) -> dict[str, Any]:
    assert headers["content-type"] == "application/json", (status, body[:200])
    error: dict[str, Any] = json.loads(body)
    assert error["code"] == code and error["message"] and error["hint"], error
    return error


async def test_media_paths_and_ranges(start_server: ServerFactory) -> None:
    server = start_server()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        (file_id,), (entry,) = await record_all_of(server, api, EncodedMedia.synthetic(2.5),
                                                   "edges")
    url = urlsplit(entry["play_set"][0]["url"])
    app = server.app_id
    query = url.query
    assert raw_request(server, f"{url.path}?{query}")[0] == 200
    # things outside the storage folder (data/storage) that a path could reach
    (server.data_dir / "secret.txt").write_text("outside the storage root")
    folder = server.data_dir / "storage" / app / file_id
    (folder / "snap").mkdir(exist_ok=True)
    (folder / "snap" / "999999.jpg").symlink_to(server.data_dir / "secret.txt")
    probes = [
        "/media/%2e%2e/x/y", "/media/../x/y", "/media/%2e%2e/%2e%2e/livetape.db",
        f"/media/{app}/{file_id}/..%2f..%2f..%2fsecret.txt",
        f"/media/{app}/{file_id}/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        f"/media/{app}/%2e%2e/{file_id}%2ff0.mp4", f"/media/{app}/{file_id}/f0.mp4%00",
        f"/media/{app}/{file_id}/f0.mp4%00.jpg", f"/media/{app}%00/{file_id}/f0.mp4",
        f"/media/{app}/{file_id}/", f"/media/{app}/{file_id}/hls", f"/media/{app}/{file_id}/snap/",
        f"/media/{app}/{file_id}/f0.mp4/", f"/media/{app}/{file_id}//f0.mp4",
        f"/media/{app}/{file_id}/./f0.mp4", f"/media/{app}/{file_id}/F0.MP4",
        f"/media/{app}/{file_id}/%2Fetc%2Fpasswd", f"/media/{app}/{file_id}/..%5c..%5csecret.txt",
        f"/media/{app}/{file_id}/snap/999999.jpg",  # the link out of the storage folder
        f"/media/{app}/_watermark/watermark.png",
    ]
    for probe in probes:
        for method in ("GET", "HEAD"):
            status, headers, body = raw_request(server, f"{probe}?{query}", method)
            assert status == 404, (probe, method, status, body[:300])
            if method == "GET":
                catalogued(status, headers, body, 10008)
                assert b"outside the storage root" not in body
    assert "Traceback" not in server.log_text()
    assert raw_request(server, f"{url.path}?{query}", "HEAD")[0] == 200
    await check_range_errors(entry["play_set"][0]["url"])


async def check_range_errors(url: str) -> None:
    """Range errors answer 416 with the catalogue's body; good ranges work as before."""
    async with httpx.AsyncClient(timeout=30) as http:
        whole = await http.get(url)
        size, etag = len(whole.content), whole.headers["etag"]
        modified = whole.headers["last-modified"]

        async def ranged(spec: str, **headers: str) -> httpx.Response:
            return await http.get(url, headers={"Range": spec, **headers})

        for spec in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=abc",
                     "bytes=5-2", "bytes=-0", "bytes=", "bytes=0-1;2", "bytes 0-9",
                     f"bytes={size}-,{size + 1}-", "bytes=1-2-3", "bytes=0x10-20",
                     "bytes=" + "9" * 30 + "-"):
            refused = await ranged(spec)
            assert refused.status_code == 416, (spec, refused.text)
            error = catalogued(416, dict(refused.headers), refused.content, 1007)
            assert refused.headers["content-range"] == f"bytes */{size}", spec
            assert "416" not in error["message"]
        head = await http.head(url, headers={"Range": "bytes=abc"})
        assert (head.status_code, head.content) == (416, b"")
        assert head.headers["content-range"] == f"bytes */{size}"

        # a unit other than bytes is ignored (RFC 9110 14.2): the whole file
        other = await ranged("items=0-5")
        assert other.status_code == 200 and other.content == whole.content
        # several parts: multipart/byteranges; parts past the end are left out
        parts = await ranged("bytes=0-9, 20-29")
        assert parts.status_code == 206
        assert parts.headers["content-type"].startswith("multipart/byteranges; boundary=")
        assert whole.content[0:10] in parts.content and whole.content[20:30] in parts.content
        assert f"Content-Range: bytes 20-29/{size}".encode() in parts.content
        one_left = await ranged(f"bytes=0-9,{size + 5}-")
        assert one_left.status_code == 206 and one_left.content == whole.content[:10]
        assert one_left.headers["content-range"] == f"bytes 0-9/{size}"
        clamped = await ranged(f"bytes={size - 10}-{size + 1000}")
        assert clamped.status_code == 206 and clamped.content == whole.content[-10:]
        # If-Range: the range only while the validator still matches
        for validator, status in ((etag, 206), (modified, 206), ('"stale"', 200),
                                  (f"W/{etag}", 200)):
            answer = await ranged("bytes=0-9", **{"If-Range": validator})
            assert answer.status_code == status, validator
            assert answer.content == (whole.content[:10] if status == 206 else whole.content)
        # a stale If-Range with an unsatisfiable range sends the whole file (no 416)
        stale = await ranged(f"bytes={size}-", **{"If-Range": '"stale"'})
        assert stale.status_code == 200 and stale.content == whole.content
        # If-None-Match is evaluated before Range
        cached = await ranged(f"bytes={size}-", **{"If-None-Match": etag})
        assert cached.status_code == 304


def fetch_from(ip: str, url: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=ip), timeout=30) as http:
        return http.head(url, headers=headers).status_code


async def test_forwarded_for_only_from_trusted_proxies(start_server: ServerFactory) -> None:
    # 127.0.0.2 is a proxy; 127.0.0.1 is not (uvicorn alone would believe it by default)
    server = start_server(trusted_proxies="127.0.0.2, 10.0.0.0/8")
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await record_all_of(server, api, EncodedMedia.synthetic(2.5), "viewers")

        async def one_viewer_url() -> str:
            info = await api._call("GET", "/v1/vod/play-info",
                                   params={"file_name": "viewers", "rlimit": 1})
            url: str = info["file_set"][0]["play_set"][0]["url"]
            return url

        url = await one_viewer_url()  # from a client that is not a proxy: its own address
        assert fetch_from("127.0.0.1", url, "203.0.113.1") == 200
        assert fetch_from("127.0.0.1", url, "203.0.113.2") == 200  # still 127.0.0.1
        assert fetch_from("127.0.0.2", url, "203.0.113.1") == 403  # a second viewer
        url = await one_viewer_url()  # through the proxy: the address it forwards
        assert fetch_from("127.0.0.2", url, "203.0.113.1") == 200
        assert fetch_from("127.0.0.2", url, "203.0.113.1") == 200
        assert fetch_from("127.0.0.2", url, "203.0.113.2") == 403  # another viewer behind it
        assert fetch_from("127.0.0.1", url, "203.0.113.1") == 403  # not a proxy: 127.0.0.1


def test_trusted_proxies_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().trusted_proxies == []  # off by default
    monkeypatch.setenv("LIVETAPE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,fd00::/8")
    assert Settings().trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]
    monkeypatch.setenv("LIVETAPE_TRUSTED_PROXIES", '["192.0.2.7"]')
    assert Settings().trusted_proxies == ["192.0.2.7"]
    monkeypatch.setenv("LIVETAPE_TRUSTED_PROXIES", "127.0.0.1,proxy.example")
    with pytest.raises(ValidationError, match=r"'proxy\.example' is not an IP address"):
        Settings()
