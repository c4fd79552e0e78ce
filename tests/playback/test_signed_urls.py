"""Signed play URLs (the original's anti-leech scheme): valid, expired, tampered, rlimit,
trial (exper) on MP4 and HLS, and apps that turn signing off."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import record_all_of, wait_for
from livetape_harness.server import LiveServer, ServerFactory


def sign(key: str, path: str, t: str, exper: str = "", rlimit: str = "", us: str = "") -> str:
    folder = path[: path.rfind("/") + 1]
    return hashlib.md5(f"{key}{folder}{t}{exper}{rlimit}{us}".encode()).hexdigest()


def with_query(url: str, **params: str) -> str:
    return url.split("?")[0] + "?" + urlencode(params)


def forbidden(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.json()["code"] == 1004


def get_from(ip: str, url: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=ip), timeout=30) as http:
        return http.get(url, **kwargs)


async def play(server: LiveServer, api: LivetapeClient, name: str, **params: Any) -> dict[str, Any]:
    info = await api._call("GET", "/v1/vod/play-info", params={"file_name": name, **params})
    entry: dict[str, Any] = info["file_set"][0]
    return entry


async def test_signed_play_urls(start_server: ServerFactory) -> None:
    server = start_server(hls_segment_seconds=1)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        settings = await api.app_settings()
        assert settings["sign_play_urls"] is True  # on by default for new apps
        key = settings["play_key"]
        (file_id,), (entry,) = await record_all_of(server, api, EncodedMedia.synthetic(4.0),
                                                   "signed")
        url = entry["play_set"][0]["url"]
        query = dict(parse_qsl(urlsplit(url).query))
        assert set(query) == {"t", "us", "sign"}
        assert int(query["t"], 16) > time.time()

        assert httpx.get(url).status_code == 200
        ranged = httpx.get(url, headers={"Range": "bytes=100-199"})
        assert (ranged.status_code, len(ranged.content)) == (206, 100)
        path = urlsplit(url).path
        assert forbidden(httpx.get(url.split("?")[0]))  # unsigned
        assert forbidden(httpx.get(with_query(url, **{**query, "us": query["us"] + "x"})))
        assert forbidden(httpx.get(with_query(url, **{**query, "sign": "0" * 32})))
        past = format(int(time.time()) - 10, "x")
        assert forbidden(httpx.get(with_query(url, t=past, us="a", sign=sign(key, path, past,
                                                                             us="a"))))
        # a URL signed by the app's server itself with the documented formula plays
        later = format(int(time.time()) + 60, "x")
        assert httpx.get(with_query(url, t=later, sign=sign(key, path, later))).status_code == 200

        # rlimit: at most N distinct viewer IPs per signed URL
        limited = (await play(server, api, "signed", rlimit=1))["play_set"][0]["url"]
        assert get_from("127.0.0.1", limited).status_code == 200
        assert forbidden(get_from("127.0.0.2", limited))
        assert get_from("127.0.0.1", limited, headers={"Range": "bytes=0-9"}).status_code == 206
        two = (await play(server, api, "signed", rlimit=2))["play_set"][0]["url"]
        assert all(get_from(ip, two).status_code == 200 for ip in ("127.0.0.1", "127.0.0.2"))
        assert forbidden(get_from("127.0.0.3", two))

        # exper: a trial of the first second; bytes past it answer 403, a range across is cut
        whole = int(httpx.head(url).headers["content-length"])
        trial = (await play(server, api, "signed", exper=1))["play_set"][0]["url"]
        cut = httpx.get(trial, headers={"Range": "bytes=0-"})
        assert cut.status_code == 206
        limit = int(cut.headers["content-range"].split("-")[1].split("/")[0]) + 1
        assert 0 < limit < whole * 0.6 and len(cut.content) == limit
        assert cut.headers["content-range"].endswith(f"/{whole}")
        assert forbidden(httpx.get(trial, headers={"Range": f"bytes={limit}-"}))

        # HLS: playlists come back signed for every URI; a trial cuts the segment list
        await api.convert(file_id, [210])
        info = await wait_for(lambda: hls_ready(api, file_id), timeout=120)
        async with httpx.AsyncClient(timeout=30) as http:
            master_url = info["hls_master_url"]
            master = await http.get(master_url)
            variant_uri = next(line for line in master.text.splitlines()
                               if line and not line.startswith("#"))
            assert "sign=" in variant_uri
            base = master_url.split("?")[0].rsplit("/", 1)[0]
            variant = await http.get(f"{base}/{variant_uri}")
            segments = [line for line in variant.text.splitlines()
                        if line and not line.startswith("#")]
            assert len(segments) >= 2 and all("sign=" in s for s in segments)
            seg_base = f"{base}/{variant_uri}".split("?")[0].rsplit("/", 1)[0]
            assert (await http.get(f"{seg_base}/{segments[-1]}")).status_code == 200
            assert forbidden(await http.get(f"{seg_base}/{segments[-1].split('?')[0]}"))

            trial_info = await api._call("GET", f"/v1/vod/files/{file_id}",
                                         params={"exper": 1})
            trial_master = await http.get(trial_info["hls_master_url"])
            trial_uri = next(line for line in trial_master.text.splitlines()
                             if line and not line.startswith("#"))
            trial_variant = await http.get(f"{base}/{trial_uri}")
            kept = [line for line in trial_variant.text.splitlines()
                    if line and not line.startswith("#")]
            assert 1 <= len(kept) < len(segments) and "#EXT-X-ENDLIST" in trial_variant.text
            # a later segment, signed under the trial grant, is refused
            trial_query = kept[0].split("?")[1]
            later_name = segments[-1].split("?")[0]
            params = dict(parse_qsl(trial_query))
            later_path = urlsplit(f"{seg_base}/{later_name}").path
            params["sign"] = sign(key, later_path, params["t"], params.get("exper", ""),
                                  params.get("rlimit", ""), params.get("us", ""))
            assert forbidden(await http.get(f"{seg_base}/{later_name}?{urlencode(params)}"))

        # turning signing off gives plain URLs that play as they are
        changed = await api.app_settings(sign_play_urls=False)
        assert changed["sign_play_urls"] is False
        plain = (await play(server, api, "signed"))["play_set"][0]["url"]
        assert "?" not in plain and httpx.get(plain).status_code == 200
        # rotating the key invalidates URLs signed with the old one
        await api.app_settings(sign_play_urls=True, rotate_play_key=True)
        assert forbidden(httpx.get(url))


async def hls_ready(api: LivetapeClient, file_id: str) -> dict[str, Any] | None:
    info = await api.get_file(file_id)
    return info if info["hls_master_url"] else None
