"""LIVETAPE_NGINX_SECURE_LINK_SECRET behind Debian's nginx (the deploy example): livetape checks
a media request and answers 302 to a link nginx's secure_link module checks; the player sends
its later ranges to that link. A recorded file plays through it (whole, ranges to the
redirected URL, decoded with PyAV); a changed, unsigned or expired link gets nginx's 403; HEAD,
a bad range (416) and a trial (cut) stay livetape's; the traffic counts what livetape
redirected."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

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

SECRET = "test-secure-link-secret-0123"
ORIGIN = {"Origin": "https://player.example"}


@pytest.fixture
def linked(start_server: ServerFactory,
           tmp_path: Path) -> Iterator[tuple[LiveServer, str, str]]:
    """livetape in secure_link mode and nginx before it: (server, proxy URL, cert)."""
    nginx.require_nginx()
    server = start_server(trusted_proxies="127.0.0.1", nginx_secure_link_secret=SECRET,
                          nginx_secure_link_seconds=60, usage_flush_seconds=0.2,
                          auto_cover="false")
    with nginx.example_in_front(server, tmp_path / "nginx", SECRET) as (url, cert):
        yield server, url, cert


def link(path: str, expires: int, secret: str = SECRET) -> str:
    """nginx's secure_link_md5 "$secure_link_expires$uri <secret>", computed here."""
    digest = hashlib.md5(f"{expires}{path} {secret}".encode()).digest()
    md5 = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return f"{path}?md5={md5}&expires={expires}"


def refused(response: httpx.Response, status: int, code: int) -> bool:
    return response.status_code == status and response.json()["code"] == code


async def test_media_through_nginx_secure_link(
    linked: tuple[LiveServer, str, str], tmp_path: Path
) -> None:
    server, url, cert = linked
    async with LivetapeClient(url, secret_key=server.secret_key, verify=cert) as api, \
            httpx.AsyncClient(verify=cert, timeout=30) as http:
        _, (entry,) = await record_all_of(server, api, EncodedMedia.synthetic(4.0), "linked")
        play = entry["play_set"][0]["url"]
        key = urlsplit(play).path.removeprefix("/media/")
        source = server.data_dir / "storage" / key
        data, size = source.read_bytes(), source.stat().st_size

        # livetape answers 302 to a link that lives LIVETAPE_NGINX_SECURE_LINK_SECONDS
        moved = await http.get(play)
        assert moved.status_code == 302 and moved.headers["cache-control"] == \
            "private, no-store"
        location = urljoin(play, moved.headers["location"])
        assert urlsplit(location).path == f"/signed/{key}"
        expires = int(parse_qs(urlsplit(location).query)["expires"][0])
        assert 50 <= expires - time.time() <= 61
        assert location == urljoin(url, link(f"/signed/{key}", expires))

        # nginx sends the file there: whole, then the player's ranges to the same link
        whole = await http.get(location, headers=ORIGIN)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["access-control-allow-origin"] == "*"
        (tmp_path / "linked.mp4").write_bytes(whole.content)
        assert probe(tmp_path / "linked.mp4")["video"]["frames"] > 0
        for first, last in ((0, 1023), (size // 2, size // 2 + 65535), (size - 10, size - 1)):
            part = await http.get(location, headers={"Range": f"bytes={first}-{last}"})
            assert part.status_code == 206 and part.content == data[first:last + 1]
            assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
        followed = await http.get(play, headers={"Range": "bytes=100-199"},
                                  follow_redirects=True)
        assert followed.status_code == 206 and followed.content == data[100:200]
        etag = whole.headers["etag"]
        assert (await http.get(location, headers={"If-None-Match": etag})).status_code == 304

        # nginx refuses a changed, unsigned, other-file or expired link (403, not the file)
        other = link(f"/signed/{key}", expires, secret="another-secret-0123456789")
        past = int(time.time()) - 5
        for bad in (location.replace("md5=", "md5=A"), location.split("?")[0],
                    urljoin(url, other), urljoin(url, link(f"/signed/{key}", past)),
                    location.replace(key, key.replace(".mp4", ".jpg"))):
            answer = await http.get(bad)
            assert answer.status_code == 403 and answer.content != data[:len(answer.content)]

        # livetape's own: HEAD, a bad range, a bad signature, a trial cut
        head = await http.head(play)
        assert head.status_code == 200 and int(head.headers["content-length"]) == size
        assert refused(await http.get(play, headers={"Range": f"bytes={size}-"}), 416, 1007)
        assert refused(await http.get(play.replace("sign=", "sign=0")), 403, 1004)
        trial = (await play_info(api, exper=1))["play_set"][0]["url"]
        cut = await http.get(trial, headers={"Range": "bytes=0-"})
        assert cut.status_code == 206, cut.headers
        limit = int(cut.headers["content-range"].split("-")[1].split("/")[0]) + 1
        assert 0 < limit < size * 0.6 and cut.content == data[:limit]
        assert refused(await http.get(trial, headers={"Range": f"bytes={limit}-"}), 403, 1004)

        # traffic: what livetape redirected (whole, one range) and cut; never the requests
        # nginx answered from the link alone
        await wait_for(lambda: traffic_is(api, size + 100 + limit), timeout=10)


async def play_info(api: LivetapeClient, **params: Any) -> dict[str, Any]:
    info = await api._call("GET", "/v1/vod/play-info", params={"file_name": "linked", **params})
    entry: dict[str, Any] = info["file_set"][0]
    return entry


async def traffic_is(api: LivetapeClient, sent: int) -> bool:
    day = (await api._call("GET", "/v1/billing/usage"))["days"][-1]
    return bool(day["traffic_bytes"] == sent)


@pytest.mark.parametrize("field,value", [
    ("nginx_secure_link_secret", "short"), ("nginx_secure_link_secret", "x" * 16 + " y"),
    ("nginx_secure_link_secret", "x" * 16 + "$y"), ("nginx_secure_link_prefix", "signed/"),
    ("nginx_secure_link_prefix", ""), ("nginx_secure_link_seconds", "0")])
def test_secure_link_settings_are_checked(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=f"nginx_secure_link|{field}"):
        Settings.model_validate({field: value})


def test_secure_link_off_by_default() -> None:
    assert Settings().nginx_secure_link_secret is None
    assert Settings(nginx_secure_link_secret="").nginx_secure_link_secret is None
