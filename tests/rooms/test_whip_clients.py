"""Every family of WHIP client publishes and is recorded: GStreamer (webrtcbin), FFmpeg 8's
whip muxer and Firefox ESR, each a real program against a real server. (Chromium, with the
project's own SDK, is in test_browser_sdk.py.)

Each test records at least 6 s while the client publishes and decodes the file: H.264 video
and Opus audio, as the client sent them.
"""

from __future__ import annotations

import asyncio
import html
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from livetape.client.api import LivetapeClient
from livetape_harness.browser import serve_html
from livetape_harness.flow import download, files_of, wait_for
from livetape_harness.media_checks import probe
from livetape_harness.server import LiveServer, ServerFactory
from livetape_harness.whip_clients import (
    build_no_upnp_library,
    start_ffmpeg,
    start_firefox,
    start_gstreamer,
    stop,
)

RECORD_SECONDS = 8.0  # recorded once the file began; the file must hold >= 6 s
MIN_SECONDS = 6.0
JOIN_TIMEOUT = 60.0  # s: from the client's start to its stream in the room (Firefox starts slowest)


@pytest.fixture(scope="module")
def no_upnp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_no_upnp_library(tmp_path_factory.mktemp("no-upnp"))


def client_log(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no output)"


async def stream_of(api: LivetapeClient, room: str, user: str) -> dict[str, Any] | None:
    members = (await api.get_room(room))["members"]
    streams = [m["streams"] for m in members if m["user_id"] == user]
    return streams[0][0] if streams else None


async def record_client(
    server: LiveServer, api: LivetapeClient, room: str, user: str,
    client: subprocess.Popen[bytes], log: Path, tmp_path: Path, *, video: str = "h264",
) -> dict[str, Any]:
    """Wait for ``user``'s stream (``video``: the codec it publishes, Opus audio), record it
    for RECORD_SECONDS from its first key frame, return the file's probe (H.264 and Opus
    whatever was published)."""

    async def joined() -> dict[str, Any] | None:
        if client.poll() is not None:
            raise AssertionError(f"the client exited ({client.returncode}): {client_log(log)}")
        stream = await stream_of(api, room, user)
        # listed from the offer on; its codecs once the answer is made
        return stream if stream and len(stream.get("codecs") or {}) == 2 else None

    stream = await wait_for(joined, timeout=JOIN_TIMEOUT, interval=0.5)
    assert stream["codecs"] == {"audio": "opus", "video": video}, stream
    recording_id = await api.start_recording(room, f"{user}-take", user_id=user)

    async def writing() -> bool:  # the file began (a key frame came): the client's media flows
        return bool((await api.get_recording(recording_id)).get("written", {}).get("video"))

    await wait_for(writing, timeout=JOIN_TIMEOUT, interval=0.2)
    await asyncio.sleep(RECORD_SECONDS)
    file_ids = await api.stop_recording(room, user_id=user)
    assert len(file_ids) == 1, (file_ids, client_log(log), server.log_text()[-3000:])
    files = await files_of(api, f"{user}-take")
    path = await download(files[0]["play_set"][0]["url"], tmp_path / f"{user}.mp4")
    info = probe(path)
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "opus", info
    assert info["video"]["first_keyframe"], info
    assert info["duration"] >= MIN_SECONDS, (info, client_log(log))
    assert info["video"]["frames"] >= MIN_SECONDS * 10, info  # every client sends >= 10 fps
    assert info["audio"]["samples"] >= MIN_SECONDS * 48000, info
    print(f"{user}: {info['duration']:.2f} s, {info['video']['width']}x"
          f"{info['video']['height']}, {info['video']['frames']} video frames, "
          f"{info['audio']['samples'] / 48000:.2f} s of audio")
    return info


@pytest.mark.parametrize("trickle", [True, False], ids=["trickle-patch", "candidates-in-offer"])
async def test_gstreamer_webrtcbin_publishes_and_is_recorded(
    start_server: ServerFactory, tmp_path: Path, no_upnp: Path, trickle: bool
) -> None:
    """Debian's simple-whip-client: an RSA DTLS certificate (needs the cipher patch); by
    default its offer has no candidates and it PATCHes them (trickle ICE) afterwards."""
    server = start_server()
    log = tmp_path / "whip-client.log"
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        room = await api.create_room("gst")
        token = await api.mint_token("gst-user")
        client = start_gstreamer(api.whip_url(room), token, log, no_upnp, trickle=trickle)
        try:
            info = await record_client(server, api, room, "gst-user", client, log, tmp_path)
        finally:
            stop(client)  # SIGINT: it DELETEs its session
        assert (info["video"]["width"], info["video"]["height"]) == (640, 360)
        output = client_log(log)
        assert "DTLS connected" in output, output
        if trickle:  # its PATCHes were answered 204 (it logs "[trickle] STATUS" otherwise)
            assert "Sending candidates" in output and "[trickle]" not in output, output
            assert "trickled candidate" in server.log_text()
        # it ended its session with DELETE: the room is empty again
        assert await wait_for(lambda: _left(api, room, "gst-user"), timeout=10)


async def _left(api: LivetapeClient, room: str, user: str) -> bool:
    return await stream_of(api, room, user) is None


async def test_ffmpeg_whip_muxer_publishes_and_is_recorded(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """FFmpeg 8's ``-f whip``: its STUN checks carry no PRIORITY (needs the ICE patch)."""
    server = start_server()
    log = tmp_path / "ffmpeg.log"
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        room = await api.create_room("ffmpeg")
        token = await api.mint_token("ffmpeg-user")
        client = start_ffmpeg(api.whip_url(room), token, log, seconds=RECORD_SECONDS + 8)
        try:
            info = await record_client(server, api, room, "ffmpeg-user", client, log, tmp_path)
        finally:
            stop(client)
        assert (info["video"]["width"], info["video"]["height"]) == (640, 480)
        assert await wait_for(lambda: _left(api, room, "ffmpeg-user"), timeout=10)


async def test_ffmpeg_with_a_2s_gop_is_recorded_from_the_moment_asked(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """Zero-gap start with a publisher that ignores PLI (FFmpeg, a key frame every 2 s): a
    recording stopped 9 s after its start request holds >= 9 s (the pre-roll's key frame)."""
    server = start_server()
    log = tmp_path / "ffmpeg.log"
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        room = await api.create_room("gop")
        token = await api.mint_token("gop-user")
        client = start_ffmpeg(api.whip_url(room), token, log, seconds=30, gop_frames=60)
        try:
            async def connected() -> bool:
                stream = await stream_of(api, room, "gop-user")
                return bool(stream and stream["state"] == "connected")

            await wait_for(connected, timeout=JOIN_TIMEOUT, interval=0.2)
            await asyncio.sleep(3.3)  # mid-GOP, well after the first sender reports
            await api.start_recording(room, "gop-take", user_id="gop-user")
            await asyncio.sleep(9.0)
            file_ids = await api.stop_recording(room, user_id="gop-user")
        finally:
            stop(client)
        assert len(file_ids) == 1, client_log(log)
        files = await files_of(api, "gop-take")
        info = probe(await download(files[0]["play_set"][0]["url"], tmp_path / "gop.mp4"))
    assert info["video"]["first_keyframe"] and info["video"]["codec"] == "h264", info
    print(f"FFmpeg, 2 s GOP: asked 9.0 s, the file holds {info['duration']:.2f} s")
    assert info["duration"] >= 9.0, info  # 7.6 s without pre-roll (measured)
    assert info["audio"]["samples"] >= 9.0 * 48000 * 0.98, info


# A page on its own origin (as an app's would be) that publishes its camera with livetape's
# browser SDK as soon as it loads; what it does is printed to the console (Firefox's log).
FIREFOX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Firefox publishes</title></head>
<body><p id="state">loading</p>
<script type="module">
import {{ Livetape }} from "{sdk}";
const say = (text) => {{
  console.log("livetape-page: " + text);
  document.getElementById("state").textContent = text;
}};
try {{
  const lt = new Livetape({{ url: "{url}", token: "{token}", room: "{room}" }});
  const publication = await lt.publish({{ camera: {{ video: {{ width: 640, height: 480 }},
                                                     audio: true }} }});
  say("published " + publication.location);
}} catch (error) {{
  say("error " + error.name + ": " + error.message);
}}
</script></body></html>
"""


async def test_firefox_esr_publishes_and_is_recorded(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """Headless Firefox ESR with its fake camera and microphone, through the browser SDK; it
    publishes VP8, which the file holds re-encoded to H.264."""
    server = start_server()
    log = tmp_path / "firefox.log"
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        room = await api.create_room("firefox")
        token = await api.mint_token("firefox-user")
        page = FIREFOX_PAGE.format(sdk=html.escape(f"{server.url}/sdk/livetape.js"),
                                   url=server.url, token=token, room=room)
        with serve_html(page) as page_url:
            client = start_firefox(page_url, tmp_path / "profile", log)
            try:
                # VP8: this Firefox has no H.264 encoder (see whip_clients.FIREFOX_PREFS)
                info = await record_client(server, api, room, "firefox-user", client, log,
                                           tmp_path, video="vp8")
            finally:
                stop(client, sig=signal.SIGTERM)
        assert "livetape-page: published" in client_log(log)
        assert (info["video"]["width"], info["video"]["height"]) == (640, 480)
