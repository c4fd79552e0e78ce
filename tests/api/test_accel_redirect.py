"""LIVETAPE_ACCEL_REDIRECT behind Debian's nginx (the deploy example): livetape checks each
media request and nginx sends the file. A recorded file plays through it: whole (nginx's
ETag proves who sent it), ranges, HEAD, 304, a bad range (livetape's 416), a bad signature
and rlimit (livetape's 403), the internal location unreachable from outside, a trial (cut
by livetape itself), a signed HLS playlist and its segments, the CORS and cache headers,
and the traffic counted as if livetape had sent the bytes."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.config import Settings
from livetape_harness import nginx
from livetape_harness.flow import record_all_of, wait_for
from livetape_harness.media_checks import probe
from livetape_harness.server import LiveServer, ServerFactory

ORIGIN = {"Origin": "https://player.example"}


@pytest.fixture
def accel(start_server: ServerFactory, tmp_path: Path) -> Iterator[tuple[LiveServer, str, str]]:
    """livetape in X-Accel-Redirect mode and nginx before it: (server, proxy URL, cert)."""
    nginx.require_nginx()
    server = start_server(trusted_proxies="127.0.0.1", accel_redirect="/internal/",
                          hls_segment_seconds=1, usage_flush_seconds=0.2, auto_cover="false")
    with nginx.example_in_front(server, tmp_path / "nginx") as (url, cert):
        yield server, url, cert


def stored(server: LiveServer, url: str) -> Path:
    """The storage file behind a /media/ URL."""
    return server.data_dir / "storage" / urlsplit(url).path.removeprefix("/media/")


def nginx_etag(path: Path) -> str:
    stat = path.stat()
    return f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'


def refused(response: httpx.Response, status: int, code: int) -> bool:
    return response.status_code == status and response.json()["code"] == code


async def test_media_through_nginx_accel_redirect(
    accel: tuple[LiveServer, str, str], tmp_path: Path
) -> None:
    server, url, cert = accel
    async with LivetapeClient(url, secret_key=server.secret_key, verify=cert) as api, \
            httpx.AsyncClient(verify=cert, timeout=30) as http:
        (file_id,), (entry,) = await record_all_of(server, api, EncodedMedia.synthetic(4.0),
                                                   "accel")
        play = entry["play_set"][0]["url"]
        assert play.startswith(f"{url}/media/") and "sign=" in play, play
        source = stored(server, play)
        data, size = source.read_bytes(), source.stat().st_size

        # whole: nginx sent it (its ETag), with livetape's type, cache and CORS headers
        whole = await http.get(play, headers=ORIGIN)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["etag"] == nginx_etag(source)
        assert whole.headers["last-modified"] == formatdate(int(source.stat().st_mtime),
                                                            usegmt=True)
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["cache-control"] == "public, max-age=3600"
        assert whole.headers["access-control-allow-origin"] == "*"
        assert "ETag" in whole.headers["access-control-expose-headers"]
        assert whole.headers.get_list("accept-ranges") == ["bytes"]
        for private in ("x-accel-redirect", "x-livetape-accel-bytes"):
            assert private not in whole.headers
        (tmp_path / "accel.mp4").write_bytes(whole.content)
        assert probe(tmp_path / "accel.mp4")["video"]["frames"] > 0

        # ranges, HEAD, conditional requests: nginx's
        ranged = await http.get(play, headers={"Range": "bytes=100-199", **ORIGIN})
        assert ranged.status_code == 206 and ranged.content == data[100:200]
        assert ranged.headers["content-range"] == f"bytes 100-199/{size}"
        assert ranged.headers["access-control-allow-origin"] == "*"
        tail = await http.get(play, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == data[-10:]
        head = await http.head(play)
        assert head.status_code == 200 and int(head.headers["content-length"]) == size
        etag = whole.headers["etag"]
        assert (await http.get(play, headers={"If-None-Match": etag})).status_code == 304
        stale = await http.get(play, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
        assert stale.status_code == 200 and len(stale.content) == size

        # bad input answers livetape's own body, never nginx's page
        past = await http.get(play, headers={"Range": f"bytes={size}-"})
        assert refused(past, 416, 1007) and past.headers["content-range"] == f"bytes */{size}"
        assert refused(await http.get(play, headers={"Range": "bytes=9-1"}), 416, 1007)
        assert refused(await http.get(play.split("?")[0]), 403, 1004)
        assert refused(await http.get(play.replace("sign=", "sign=0")), 403, 1004)
        key = urlsplit(play).path.removeprefix("/media/")
        assert (await http.get(f"{url}/internal/{key}")).status_code == 404  # internal only

        # rlimit counts the viewer nginx forwards
        limited = (await play_info(api, rlimit=1))["play_set"][0]["url"]
        assert (await get_from("127.0.0.1", limited, cert)).status_code == 200
        assert refused(await get_from("127.0.0.2", limited, cert), 403, 1004)

        # a trial is cut by livetape itself (Starlette's ETag, not nginx's)
        trial = (await play_info(api, exper=1))["play_set"][0]["url"]
        cut = await http.get(trial, headers={"Range": "bytes=0-"})
        assert cut.status_code == 206 and cut.headers["etag"] != etag
        limit = int(cut.headers["content-range"].split("-")[1].split("/")[0]) + 1
        assert 0 < limit < size * 0.6 and cut.content == data[:limit]
        assert refused(await http.get(trial, headers={"Range": f"bytes={limit}-"}), 403, 1004)

        # HLS: the signed playlists are livetape's bodies, the segments nginx's
        await api.convert(file_id, [210])
        info = await wait_for(lambda: hls_ready(api, file_id), timeout=120)
        master = await http.get(info["hls_master_url"])
        assert master.status_code == 200 and master.text.startswith("#EXTM3U")
        assert master.headers["cache-control"] == "private, no-store"
        variant_uri = next(line for line in master.text.splitlines()
                           if line and not line.startswith("#"))
        base = info["hls_master_url"].split("?")[0].rsplit("/", 1)[0]
        variant = await http.get(f"{base}/{variant_uri}")
        segments = [line for line in variant.text.splitlines()
                    if line and not line.startswith("#")]
        assert len(segments) >= 2 and all("sign=" in s for s in segments)
        segment_url = f"{base}/{variant_uri}".split("?")[0].rsplit("/", 1)[0] + "/" + \
            segments[-1]
        segment = await http.get(segment_url, headers=ORIGIN)
        segment_file = stored(server, segment_url.split("?")[0])
        assert segment.status_code == 200 and segment.content == segment_file.read_bytes()
        assert segment.headers["content-type"] == "video/mp2t"
        assert segment.headers["etag"] == nginx_etag(segment_file)
        assert segment.headers["access-control-allow-origin"] == "*"
        assert refused(await http.get(segment_url.split("?")[0]), 403, 1004)

        # traffic: what nginx was asked to send (whole, ranges, rlimit's viewer, the segment)
        # and livetape's own bodies (the trial, the playlists); not HEAD, 304 or refusals
        sent = (size + 100 + 10 + size) + size + segment_file.stat().st_size \
            + limit + len(master.content) + len(variant.content)
        await wait_for(lambda: traffic_is(api, sent), timeout=10)


async def play_info(api: LivetapeClient, **params: Any) -> dict[str, Any]:
    info = await api._call("GET", "/v1/vod/play-info", params={"file_name": "accel", **params})
    entry: dict[str, Any] = info["file_set"][0]
    return entry


async def get_from(ip: str, url: str, cert: str) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(local_address=ip, verify=cert)
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        return await http.get(url)


async def hls_ready(api: LivetapeClient, file_id: str) -> dict[str, Any] | None:
    info = await api.get_file(file_id)
    return info if info["hls_master_url"] else None


async def traffic_is(api: LivetapeClient, sent: int) -> bool:
    day = (await api._call("GET", "/v1/billing/usage"))["days"][-1]
    return bool(day["traffic_bytes"] == sent)


@pytest.mark.parametrize("value", ["internal/", "/internal", "/in ternal/", "/a?b/", "/%2e/"])
def test_accel_prefix_must_be_a_plain_path(value: str) -> None:
    with pytest.raises(ValidationError, match="LIVETAPE_ACCEL_REDIRECT"):
        Settings(accel_redirect=value)


def test_accel_off_by_default_and_when_empty() -> None:
    assert Settings().accel_redirect is None
    assert Settings(accel_redirect="").accel_redirect is None
