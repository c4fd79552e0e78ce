"""livetape behind nginx terminating TLS, with the example configuration of deploy/: WHIP
publishing, recording, play URLs, ranged media and the console's Secure cookie all work
through the proxy (Debian's nginx, run as this user by the test)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness import nginx
from livetape_harness.media_checks import probe
from livetape_harness.server import LiveServer, ServerFactory


@pytest.fixture
def proxied(start_server: ServerFactory, tmp_path: Path) -> Iterator[tuple[LiveServer, str, str]]:
    """A livetape server and nginx before it; yields (server, proxy URL, certificate)."""
    server = start_server(trusted_proxies="127.0.0.1")
    with nginx.example_in_front(server, tmp_path / "nginx") as (url, cert):
        yield server, url, cert


async def test_everything_works_through_nginx(
    proxied: tuple[LiveServer, str, str], tmp_path: Path
) -> None:
    server, url, cert = proxied
    media = EncodedMedia.synthetic(3.0)
    async with LivetapeClient(url, secret_key=server.secret_key, verify=cert) as api, \
            httpx.AsyncClient(verify=cert, timeout=30) as http:
        room = await api.create_room("proxied")
        token = await api.mint_token("alice")
        publisher = WhipPublisher(api.whip_url(room, "camera"), token, media, loop=True,
                                  client=http)
        await publisher.start()
        try:
            await api.start_recording(room, "through-nginx", user_id="alice")
            await asyncio.sleep(4.0)
            file_ids = await api.stop_recording(room, user_id="alice")
        finally:
            await publisher.stop()
        assert publisher.delete_status == 200
        entry = await api.get_file(file_ids[0])
        play = entry["play_set"][0]["url"]
        assert play.startswith(f"{url}/media/"), play  # the proxy's scheme and host
        ranged = await http.get(play, headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and len(ranged.content) == 100
        whole = await http.get(play)
        (tmp_path / "proxied.mp4").write_bytes(whole.content)
        signed_in = await http.post(f"{url}/console/session", json={
            "app_id": server.app_id, "secret_key": server.secret_key})
        assert signed_in.status_code == 200, signed_in.text
        assert "secure" in signed_in.headers["set-cookie"].lower()  # X-Forwarded-Proto: https
    summary = probe(tmp_path / "proxied.mp4")
    assert summary["video"]["frames"] > 0 and 3.0 <= summary["duration"] <= 9.0, summary
