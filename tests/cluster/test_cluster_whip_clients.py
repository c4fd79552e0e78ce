"""Every WHIP client family publishes through node a of a three-node cluster, where node a
takes no publishers (LIVETAPE_MAX_PUBLICATIONS=0): the offer is proxied over NATS to b or c,
the answer carries that node's candidates, media flows straight to it. The recording is
started and stopped through a, the file decodes with the tracks the client sent, and the
session ends with a DELETE of its ``Location`` (the client's own, through a; or ours,
through another node).

One cluster for the module, clients in sequence: the Python publisher, GStreamer's
simple-whip-client, FFmpeg 8's whip muxer, Firefox ESR and Chromium (both with the browser
SDK).
"""

from __future__ import annotations

import html
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness.browser import chromium, page_messages, serve_html
from livetape_harness.cluster import LocalCluster
from livetape_harness.flow import wait_for
from livetape_harness.whip_clients import (
    build_no_upnp_library,
    start_ffmpeg,
    start_firefox,
    start_gstreamer,
    stop,
)
from tests.rooms.test_whip_clients import (
    FIREFOX_PAGE,
    JOIN_TIMEOUT,
    RECORD_SECONDS,
    client_log,
    record_client,
    stream_of,
)

POSTGRES_URL = os.environ.get("LIVETAPE_TEST_POSTGRES_URL")
ROOM = "clients"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if not POSTGRES_URL:
        pytest.skip("cluster tests need PostgreSQL: set LIVETAPE_TEST_POSTGRES_URL")
    nodes: dict[str, dict[str, object]] = {"a": {"max_publications": 0}, "b": {}, "c": {}}
    started = LocalCluster(tmp_path_factory.mktemp("cluster"), POSTGRES_URL, nodes,
                           common={"idle_timeout_seconds": 20}).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def no_upnp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_no_upnp_library(tmp_path_factory.mktemp("no-upnp"))


async def placed_on(api: LivetapeClient, user: str) -> str:
    """The node holding ``user``'s stream (its publication id names it); never a."""
    stream = await stream_of(api, ROOM, user)
    assert stream is not None
    node = str(stream["publication_id"]).split(".", 1)[0]
    assert node in ("b", "c"), stream
    return node


async def left(api: LivetapeClient, user: str) -> bool:
    return await stream_of(api, ROOM, user) is None


async def test_python_publisher(cluster: LocalCluster, tmp_path: Path) -> None:
    a = cluster["a"]
    ready = httpx.get(f"{a.url}/readyz", timeout=30)  # API-only: ready for the load balancer
    assert ready.status_code == 200 and ready.json()["checks"]["publishers"]["ok"], ready.text
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        await api.create_room(ROOM)
        token = await api.mint_token("py-user")
        publisher = WhipPublisher(api.whip_url(ROOM), token, EncodedMedia.synthetic(4.0),
                                  loop=True)
        await publisher.start()
        try:
            assert publisher.location and publisher.location.startswith(f"{a.url}/v1/rooms/")
            info = await record_client(a, api, ROOM, "py-user", _NoProcess(), tmp_path / "none",
                                       tmp_path)
            node = await placed_on(api, "py-user")
            # DELETE of the Location through the other node that is not its own
            other = cluster["c" if node == "b" else "b"]
            path = publisher.location.removeprefix(a.url)
            gone = httpx.delete(f"{other.url}{path}", timeout=30,
                                headers={"Authorization": f"Bearer {token}"})
            assert gone.status_code in (200, 204), gone.text
            assert await wait_for(lambda: left(api, "py-user"), timeout=10)
        finally:
            await publisher.vanish()
    print(f"python publisher on {node}: {info['duration']:.2f} s")


async def test_gstreamer(cluster: LocalCluster, tmp_path: Path, no_upnp: Path) -> None:
    await _record_process(cluster, tmp_path, "gst-user", lambda url, token, log: start_gstreamer(
        url, token, log, no_upnp), sig=signal.SIGINT)


async def test_ffmpeg(cluster: LocalCluster, tmp_path: Path) -> None:
    await _record_process(cluster, tmp_path, "ffmpeg-user", lambda url, token, log: start_ffmpeg(
        url, token, log, seconds=RECORD_SECONDS + 20), sig=signal.SIGINT)


async def test_firefox(cluster: LocalCluster, tmp_path: Path) -> None:
    a = cluster["a"]
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        token = await api.mint_token("firefox-user")
        page = FIREFOX_PAGE.format(sdk=html.escape(f"{a.url}/sdk/livetape.js"), url=a.url,
                                   token=token, room=ROOM)
        log = tmp_path / "firefox.log"
        with serve_html(page) as page_url:
            client = start_firefox(page_url, tmp_path / "profile", log)
            try:
                info = await record_client(a, api, ROOM, "firefox-user", client, log, tmp_path,
                                           video="vp8")
                node = await placed_on(api, "firefox-user")
            finally:
                stop(client, sig=signal.SIGTERM)  # no DELETE: the session ends by itself
        assert "livetape-page: published" in client_log(log)
    print(f"firefox on {node}: {info['duration']:.2f} s")


async def test_chromium(cluster: LocalCluster, tmp_path: Path) -> None:
    a = cluster["a"]
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        token = await api.mint_token("chromium-user")
        page_html = FIREFOX_PAGE.format(sdk=html.escape(f"{a.url}/sdk/livetape.js"), url=a.url,
                                        token=token, room=ROOM)
        with serve_html(page_html) as page_url:
            async with chromium() as browser:
                page = await browser.new_page()
                console = page_messages(page)
                await page.goto(page_url)
                info = await record_client(a, api, ROOM, "chromium-user", _NoProcess(),
                                           tmp_path / "none", tmp_path)
                node = await placed_on(api, "chromium-user")
                published = [m for m in console if "livetape-page: published" in m]
                assert published, console
                location = published[0].rsplit(" ", 1)[-1]
                assert location.startswith(f"{a.url}/v1/rooms/{ROOM}/whip/{node}."), location
                # its Location, DELETEd through the node that does not hold it
                other = cluster["c" if node == "b" else "b"]
                gone = httpx.delete(location.replace(a.url, other.url), timeout=30,
                                    headers={"Authorization": f"Bearer {token}"})
                assert gone.status_code in (200, 204), gone.text
                assert await wait_for(lambda: left(api, "chromium-user"), timeout=10)
    print(f"chromium on {node}: {info['duration']:.2f} s")


async def _record_process(cluster: LocalCluster, tmp_path: Path, user: str, start,  # type: ignore[no-untyped-def]
                          sig: int) -> None:
    """A client program publishes through a, is recorded through a, and on ``sig`` DELETEs
    its session (its Location is on a): the stream leaves the room."""
    a = cluster["a"]
    log = tmp_path / f"{user}.log"
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        token = await api.mint_token(user)
        client = start(api.whip_url(ROOM), token, log)
        try:
            info = await record_client(a, api, ROOM, user, client, log, tmp_path)
            node = await placed_on(api, user)
        finally:
            stop(client, sig=sig)
        assert await wait_for(lambda: left(api, user), timeout=JOIN_TIMEOUT), client_log(log)
    print(f"{user} on {node}: {info['duration']:.2f} s")


class _NoProcess:
    """Stands for a client process for :func:`record_client` (an in-test publisher)."""

    returncode = None

    def poll(self) -> None:
        return None
