"""A camera on another machine needs a secure context: Chromium opens livetape's own pages
over HTTPS (LIVETAPE_TLS_CERT / LIVETAPE_TLS_KEY, a self-signed certificate made by the test),
publishes its fake camera with the browser SDK (asking the server for its ICE servers first)
and is recorded; the file is fetched over HTTPS and decoded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from livetape.client.api import LivetapeClient
from livetape_harness.browser import chromium, require_browser
from livetape_harness.certs import self_signed
from livetape_harness.flow import download, wait_for
from livetape_harness.media_checks import probe
from livetape_harness.server import ServerFactory

PUBLISH = """async ({token, room}) => {
  const { Livetape } = await import("/sdk/livetape.js");
  window.lt = new Livetape({ token, room, iceServers: "server" });
  const publication = await window.lt.publish({ camera: true });
  return { location: publication.location, secure: window.isSecureContext };
}"""
RECORD_SECONDS = 5.0


async def test_chromium_publishes_from_an_https_page(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    require_browser()
    cert, key = self_signed(tmp_path / "tls")
    server = start_server(tls_cert=cert, tls_key=key)
    assert server.url.startswith("https://")
    async with LivetapeClient(server.url, secret_key=server.secret_key,
                              verify=str(cert)) as api:
        room = await api.create_room("secure-room")
        token = await api.mint_token("alice")
        async with chromium("--ignore-certificate-errors") as browser:
            page = await browser.new_page()
            await page.goto(f"{server.url}/demo")
            published = await page.evaluate(PUBLISH, {"token": token, "room": room})
            assert published["secure"] is True
            assert published["location"].startswith(f"{server.url}/v1/rooms/{room}/whip/")

            async def connected() -> bool:
                members = (await api.get_room(room))["members"]
                return bool(members) and members[0]["streams"][0]["state"] == "connected"

            await wait_for(connected, timeout=20)
            await asyncio.sleep(1.0)
            recording_id = await api.start_recording(room, "over-https", user_id="alice")
            await asyncio.sleep(RECORD_SECONDS)
            file_ids = await api.stop_recording(room, user_id="alice")
            await page.evaluate("window.lt.publications.get('camera').leave()")
        assert len(file_ids) == 1, file_ids
        entry = await api.get_file(file_ids[0])
        assert entry["recording_id"] == recording_id
        assert entry["video_codec"] == "h264" and entry["audio_codec"] == "opus", entry
        url = entry["play_set"][0]["url"]
        assert url.startswith("https://")
        summary = probe(await download(url, tmp_path / "https.mp4", verify=str(cert)))
    assert summary["video"]["frames"] > 0 and summary["audio"]["frames"] > 0, summary
    assert RECORD_SECONDS - 1 <= summary["duration"] <= RECORD_SECONDS + 5, summary
