"""Janus VideoRoom as the C reference for livetape's capacity benchmark.

This module runs Debian's ``janus`` (1.1.x) as a subprocess with a config set of its own (nothing
under /etc is read or changed), publishes WebRTC offers into one VideoRoom room with recording
on through Janus's plain HTTP API, measures the Janus process (CPU seconds, peak RSS) and counts
what Janus wrote to its ``.mjr`` recordings.

Typical use::

    async with JanusRef() as janus:
        answer_sdp, leave = await janus.publish(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
        ...
        await leave()
    stats = recorded_frames(janus.record_dir)

Requirements: ``apt-get install janus`` (``janus-tools`` too for the optional ``janus-pp-rec``
cross-check), ``httpx`` and ``aioice`` (an aiortc dependency) in the venv.

The ``.mjr`` format relied on (Janus >= 0.10, ``src/record.c``, "MJR00002")::

    "MJR00002"                                   8-byte magic
    u16 BE length, JSON info header              {"t": "v"|"a"|"d", "c": codec, "s": created_us,
                                                  "u": first_frame_us, ...}
    then per packet, until EOF:
    "MEET", u32 BE ms since the first packet, u16 BE length, <length> bytes of the RTP packet
    (data channels: an extra u64 BE real-time stamp counted in <length> precedes the payload)

The RTP packets are stored decrypted, with SSRC / sequence number / timestamp rewritten by
Janus's switching context (consistent offsets, so distinct timestamps still mark frames).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

VIDEOROOM_PLUGIN = "janus.plugin.videoroom"
HTTP_TRANSPORT_LIB = "libjanus_http.so"
VIDEOROOM_LIB = "libjanus_videoroom.so"
# Janus drops a session after session_timeout (60 s by default) without any request on it.
KEEPALIVE_INTERVAL_S = 25.0
# Janus holds a long poll for up to 30 s before answering {"janus": "keepalive"}.
LONG_POLL_TIMEOUT_S = 45.0
MJR_MAGIC = b"MJR00002"
MJR_FRAME_MAGIC = b"MEET"
H264_NAL_IDR = 5
H264_NAL_SPS = 7
H264_STAP_A = 24
H264_FU_A = 28
VIDEO_CLOCK_HZ = 90_000
AUDIO_CLOCK_HZ = 48_000


class JanusError(RuntimeError):
    """Janus answered with an error (core ``{"janus": "error"}`` or a plugin error)."""


# --------------------------------------------------------------------------------------------
# Locating Janus and building its config
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JanusInstall:
    """Where the Janus binary and its module folders are."""

    binary: Path
    lib_dir: Path  # holds plugins/, transports/, events/, loggers/

    @property
    def plugins_dir(self) -> Path:
        """Folder of plugin shared objects (libjanus_videoroom.so, ...)."""
        return self.lib_dir / "plugins"

    @property
    def transports_dir(self) -> Path:
        """Folder of transport shared objects (libjanus_http.so, ...)."""
        return self.lib_dir / "transports"

    @property
    def events_dir(self) -> Path:
        """Folder of event handler shared objects."""
        return self.lib_dir / "events"

    @property
    def loggers_dir(self) -> Path:
        """Folder of external logger shared objects."""
        return self.lib_dir / "loggers"


def find_janus(binary: str | os.PathLike[str] | None = None) -> JanusInstall:
    """Locate the janus binary and its lib folder (Debian: /usr/lib/<triplet>/janus)."""
    exe = Path(binary) if binary else Path(shutil.which("janus") or "/usr/bin/janus")
    if not exe.exists():
        raise FileNotFoundError("janus not found: apt-get install -y janus")
    prefix = exe.resolve().parent.parent  # /usr/bin/janus -> /usr
    # Debian uses the multiarch folder; a source build under a prefix uses lib/janus.
    patterns = [
        str(prefix / "lib" / "*" / "janus" / "plugins" / VIDEOROOM_LIB),
        str(prefix / "lib" / "janus" / "plugins" / VIDEOROOM_LIB),
        str(prefix / "lib64" / "janus" / "plugins" / VIDEOROOM_LIB),
    ]
    for pattern in patterns:
        hits = sorted(glob.glob(pattern))
        if hits:
            return JanusInstall(binary=exe, lib_dir=Path(hits[0]).parent.parent)
    raise FileNotFoundError(f"no {VIDEOROOM_LIB} found under {prefix}/lib*")


def host_address() -> str:
    """The machine's first non-loopback IPv4 address.

    aiortc (through aioice) never gathers 127.0.0.1 candidates, so Janus must offer ICE
    candidates on the same interface address that aiortc uses; aioice's own helper is the one
    that decides what aiortc gathers, so ask it.
    """
    from aioice.ice import get_host_addresses

    addresses = get_host_addresses(use_ipv4=True, use_ipv6=False)
    if not addresses:
        raise RuntimeError("no non-loopback IPv4 address: aiortc cannot do ICE here")
    return str(addresses[0])


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the usual bind-to-0 trick; racy but fine here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _disable_list(folder: Path, keep: str) -> str:
    """Comma-separated names of every shared object in ``folder`` except ``keep``."""
    if not folder.is_dir():
        return ""
    return ",".join(sorted(p.name for p in folder.glob("*.so") if p.name != keep))


def render_config(
    install: JanusInstall,
    config_dir: Path,
    *,
    ice_address: str,
    http_port: int,
    debug_level: int = 4,
    rtp_port_range: str = "20000-40000",
) -> dict[str, str]:
    """Janus config files (file name -> text) for a closed-network VideoRoom reference.

    Only the HTTP transport and the VideoRoom plugin load; admin API, event handlers, external
    loggers, STUN/TURN and 1:1 NAT are all off; ICE gathers on ``ice_address`` only.
    """
    all_loggers = ",".join(sorted(p.name for p in install.loggers_dir.glob("*.so")))
    janus_jcfg = f"""\
general: {{
\tconfigs_folder = "{config_dir}"
\tplugins_folder = "{install.plugins_dir}"
\ttransports_folder = "{install.transports_dir}"
\tevents_folder = "{install.events_dir}"
\tloggers_folder = "{install.loggers_dir}"
\tdebug_level = {debug_level}
\tdebug_timestamps = true
\tdebug_colors = false
\t# Random admin secret: the admin API is off anyway, but never run with the well-known default.
\tadmin_secret = "{secrets.token_hex(16)}"
\tserver_name = "livetape-janus-ref"
\tsession_timeout = 60
\t# Nothing is protected: recordings go to a temp dir chosen by the harness.
\tprotected_folders = []
}}
certificates: {{
\t# No cert configured: Janus generates a self-signed DTLS certificate at startup.
}}
media: {{
\tipv6 = false
\trtp_port_range = "{rtp_port_range}"
}}
nat: {{
\t# Closed network: no STUN/TURN, no 1:1 NAT, host candidates on one address only.
\tnice_debug = false
\tfull_trickle = false
\tignore_mdns = true
\tice_enforce_list = "{ice_address}"
}}
plugins: {{
\tdisable = "{_disable_list(install.plugins_dir, VIDEOROOM_LIB)}"
}}
transports: {{
\tdisable = "{_disable_list(install.transports_dir, HTTP_TRANSPORT_LIB)}"
}}
loggers: {{
\tdisable = "{all_loggers}"
}}
events: {{
\tbroadcast = false
}}
"""
    http_jcfg = f"""\
general: {{
\tjson = "compact"
\tbase_path = "/janus"
\thttp = true
\tport = {http_port}
\tip = "127.0.0.1"
\thttps = false
}}
admin: {{
\tadmin_http = false
\tadmin_https = false
}}
cors: {{
}}
"""
    # Rooms are created through the API; the file only has to exist (and carry no demo rooms).
    videoroom_jcfg = """\
general: {
\tevents = false
}
"""
    return {
        "janus.jcfg": janus_jcfg,
        "janus.transport.http.jcfg": http_jcfg,
        "janus.plugin.videoroom.jcfg": videoroom_jcfg,
    }


# --------------------------------------------------------------------------------------------
# /proc measurements
# --------------------------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all threads), from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # comm (field 2) may contain spaces and parentheses: split after its closing one.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def proc_status_bytes(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (e.g. VmHWM, VmRSS), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


# --------------------------------------------------------------------------------------------
# Janus API session (HTTP transport, long-poll event model)
# --------------------------------------------------------------------------------------------


def _transaction() -> str:
    return secrets.token_hex(8)


class JanusSession:
    """One Janus API session: requests, a long-poll event dispatcher and keepalives.

    Janus answers plugin requests that take time (join, configure, leave) with an ``ack`` and
    delivers the result later as an ``event`` carrying the same transaction id on the session's
    long-poll ``GET /janus/<session_id>``; one background task reads that stream and resolves
    the matching futures, another sends keepalives so the session survives idle periods.
    """

    def __init__(self, client: httpx.AsyncClient, session_id: int) -> None:
        self.client = client
        self.session_id = session_id
        self.events: list[dict[str, Any]] = []  # every event seen, for debugging
        self.webrtc_up = asyncio.Event()
        self.hangup = asyncio.Event()
        # Plugin requests waiting for their asynchronous event, by transaction id.
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @classmethod
    async def create(cls, client: httpx.AsyncClient) -> JanusSession:
        """Create a Janus session and start its poll and keepalive tasks."""
        reply = await _post(client, "/janus", {"janus": "create"})
        session = cls(client, int(reply["data"]["id"]))
        session._tasks = [
            asyncio.create_task(session._poll_loop(), name=f"janus-poll-{session.session_id}"),
            asyncio.create_task(session._keepalive_loop(), name=f"janus-ka-{session.session_id}"),
        ]
        return session

    @property
    def path(self) -> str:
        """URL path of this session."""
        return f"/janus/{self.session_id}"

    async def attach(self, plugin: str = VIDEOROOM_PLUGIN) -> int:
        """Attach a plugin handle; returns the handle id."""
        reply = await _post(self.client, self.path, {"janus": "attach", "plugin": plugin})
        return int(reply["data"]["id"])

    async def message(
        self,
        handle_id: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        event_timeout: float = 20.0,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a plugin message; returns (plugin data, jsep) from the sync reply or the event.

        Raises JanusError on a core or plugin error.
        """
        transaction = _transaction()
        loop = asyncio.get_running_loop()
        # Register before sending: the event can arrive on the long poll before the POST returns.
        pending: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending[transaction] = pending
        try:
            request: dict[str, Any] = {"janus": "message", "body": body}
            if jsep is not None:
                request["jsep"] = jsep
            reply = await _post(
                self.client, f"{self.path}/{handle_id}", request, transaction=transaction
            )
            if reply["janus"] == "success":  # synchronous plugin request (create, exists, ...)
                event = reply
            else:  # "ack": the answer comes as an event
                event = await asyncio.wait_for(pending, event_timeout)
        finally:
            self._pending.pop(transaction, None)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data or "error_code" in data:
            raise JanusError(f"{body.get('request')}: {data.get('error_code')} {data.get('error')}")
        return data, event.get("jsep")

    async def _poll_loop(self) -> None:
        """Read the session's event stream forever and dispatch events by transaction."""
        backoff = 0.1
        while not self._closed:
            try:
                resp = await self.client.get(
                    self.path,
                    params={"maxev": 10, "rid": _transaction()},
                    timeout=LONG_POLL_TIMEOUT_S,
                )
                resp.raise_for_status()
                payload = resp.json()
                backoff = 0.1
            except (httpx.HTTPError, ValueError) as exc:
                if self._closed:
                    return
                logger.warning("janus long poll on %s failed: %s", self.session_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            for event in payload if isinstance(payload, list) else [payload]:
                self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "keepalive":
            return
        self.events.append(event)
        if kind == "webrtcup":
            self.webrtc_up.set()
        elif kind == "hangup":
            self.hangup.set()
        elif kind == "error" and event.get("error", {}).get("code") == 458:
            # 458 = session not found: it timed out or was destroyed; stop polling.
            self._closed = True
        transaction = event.get("transaction")
        if kind == "event" and transaction in self._pending:
            future = self._pending[transaction]
            if not future.done():
                future.set_result(event)

    async def _keepalive_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(KEEPALIVE_INTERVAL_S)
            try:
                await _post(self.client, self.path, {"janus": "keepalive"})
            except (httpx.HTTPError, JanusError) as exc:
                if not self._closed:
                    logger.warning("janus keepalive on %s failed: %s", self.session_id, exc)

    async def destroy(self) -> None:
        """Destroy the session (hangs up and detaches its handles); idempotent."""
        if self._closed and not self._tasks:
            return
        self._closed = True
        with contextlib.suppress(httpx.HTTPError, JanusError):
            await _post(self.client, self.path, {"janus": "destroy"})
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


async def _post(
    client: httpx.AsyncClient,
    path: str,
    request: dict[str, Any],
    *,
    transaction: str | None = None,
    http_timeout: float = 10.0,
) -> dict[str, Any]:
    """POST one Janus API request; raises JanusError on ``{"janus": "error"}``."""
    body = {**request, "transaction": transaction or _transaction()}
    resp = await client.post(path, json=body, timeout=http_timeout)
    resp.raise_for_status()
    reply: dict[str, Any] = resp.json()
    if reply.get("janus") == "error":
        err = reply.get("error", {})
        raise JanusError(f"{request['janus']}: {err.get('code')} {err.get('reason')}")
    return reply


@dataclass
class Publisher:
    """A VideoRoom publisher; awaiting it (``await publisher()``) leaves the room.

    ``publish()`` returns it as the ``leave`` callable of its tuple; the extra attributes are
    there for callers who want Janus's own view (``webrtc_up`` is set when Janus reports the
    PeerConnection up, ``publisher_id`` is the VideoRoom participant id).
    """

    session: JanusSession
    handle_id: int
    publisher_id: int
    _left: bool = field(default=False, init=False)

    @property
    def webrtc_up(self) -> asyncio.Event:
        """Set when Janus reports ``webrtcup`` for this publisher's PeerConnection."""
        return self.session.webrtc_up

    async def __call__(self) -> None:
        """Leave the room (Janus closes the recordings) and destroy the session; idempotent."""
        if self._left:
            return
        self._left = True
        try:
            await self.session.message(self.handle_id, {"request": "leave"}, event_timeout=5.0)
        except (JanusError, TimeoutError, httpx.HTTPError) as exc:
            logger.warning("janus leave failed: %s", exc)
        await self.session.destroy()


# --------------------------------------------------------------------------------------------
# The reference server
# --------------------------------------------------------------------------------------------


class JanusRef:
    """A private Janus instance (VideoRoom + HTTP transport) with recording on.

    Use as ``async with JanusRef() as janus: ...`` or call ``start()`` / ``stop()``. Everything
    lives under ``workdir`` (a fresh temp dir by default): ``conf/`` (generated config),
    ``recordings/`` (``record_dir``) and ``janus.log``. ``stop()`` keeps the workdir so the
    recordings can be counted; ``cleanup()`` removes a temp workdir this object created.
    """

    def __init__(
        self,
        *,
        workdir: str | os.PathLike[str] | None = None,
        ice_address: str | None = None,
        http_port: int | None = None,
        room: int = 1234,
        max_publishers: int = 100,
        debug_level: int = 4,
        janus_binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.install = find_janus(janus_binary)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="janus-ref-")).resolve()
        self.config_dir = self.workdir / "conf"
        self.record_dir = self.workdir / "recordings"
        self.log_path = self.workdir / "janus.log"
        self.ice_address = ice_address or host_address()
        self.http_port = http_port
        self.room = room
        self.max_publishers = max_publishers
        self.debug_level = debug_level
        self.startup_timeout = startup_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self.server_info: dict[str, Any] = {}  # janus's answer to {"janus": "info"}
        self._client: httpx.AsyncClient | None = None
        self._room_ready = False
        self._room_lock = asyncio.Lock()
        self._publishers: list[Publisher] = []
        # Last values read from /proc, so they stay readable after the process is gone.
        self._last_cpu = 0.0
        self._last_hwm = 0

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """PID of the running janus process (None before start / after stop)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def base_url(self) -> str:
        """Root URL of the HTTP transport (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self.http_port}"

    def command(self) -> list[str]:
        """The janus command line used by ``start()``."""
        return [
            str(self.install.binary),
            "--configs-folder",
            str(self.config_dir),
            "--config",
            str(self.config_dir / "janus.jcfg"),
            "--disable-colors",
        ]

    async def start(self) -> None:
        """Write the config, start janus and wait until ``{"janus": "info"}`` answers."""
        if self._proc is not None:
            return
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.record_dir.mkdir(parents=True, exist_ok=True)
        if self.http_port is None:
            self.http_port = free_tcp_port()
        files = render_config(
            self.install,
            self.config_dir,
            ice_address=self.ice_address,
            http_port=self.http_port,
            debug_level=self.debug_level,
        )
        for name, text in files.items():
            (self.config_dir / name).write_text(text)
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        # trust_env=False: a proxy from the environment must never see 127.0.0.1 traffic.
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            trust_env=False,
            limits=httpx.Limits(max_connections=2000, max_keepalive_connections=200),
        )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        self._sample()

    async def _wait_ready(self) -> None:
        assert self._client is not None and self._proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        while True:
            if self._proc.returncode is not None:
                raise RuntimeError(
                    f"janus exited with {self._proc.returncode}; log tail:\n{self.log_tail()}"
                )
            try:
                reply = await _post(self._client, "/janus", {"janus": "info"}, http_timeout=2.0)
                if reply.get("janus") == "server_info":
                    plugins = reply.get("plugins", {})
                    if VIDEOROOM_PLUGIN not in plugins:
                        raise RuntimeError(f"janus started without {VIDEOROOM_PLUGIN}")
                    self.server_info = reply
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if loop.time() > deadline:
                raise TimeoutError(f"janus did not answer info; log tail:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Leave all publishers, then SIGTERM janus (SIGKILL after ``grace_s``); idempotent."""
        for publisher in self._publishers:
            await publisher()
        self._publishers = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            self._sample(proc.pid)
        if proc.returncode is None:
            # SIGINT and SIGTERM both make janus shut down cleanly (closing open recordings).
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                logger.warning("janus ignored SIGTERM for %.0f s; killing it", grace_s)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    def cleanup(self) -> None:
        """Remove the workdir if this object created it (call after counting recordings)."""
        if self._own_workdir and self._proc is None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> JanusRef:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def log_tail(self, lines: int = 30) -> str:
        """Last lines of janus's log (stdout + stderr)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- measurements --------------------------------------------------------------------------

    def _sample(self, pid: int | None = None) -> None:
        pid = pid if pid is not None else self.pid
        if pid is None:
            return
        self._last_cpu = proc_cpu_seconds(pid)
        self._last_hwm = proc_status_bytes(pid, "VmHWM")

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used by janus so far (last value once stopped)."""
        with contextlib.suppress(OSError):
            self._sample()
        return self._last_cpu

    def peak_rss_bytes(self) -> int:
        """Peak resident set size (VmHWM) of janus (last value once stopped)."""
        with contextlib.suppress(OSError):
            self._sample()
        return self._last_hwm

    def rss_bytes(self) -> int:
        """Current resident set size (VmRSS) of janus."""
        if self.pid is None:
            raise RuntimeError("janus is not running")
        return proc_status_bytes(self.pid, "VmRSS")

    def reset_peak_rss(self) -> bool:
        """Reset VmHWM to the current RSS (``echo 5 > /proc/<pid>/clear_refs``).

        Lets a benchmark measure the peak of one phase only. Needs permission over the process
        (same user or root); returns False if the kernel refused.
        """
        if self.pid is None:
            return False
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        self._last_hwm = 0
        return True

    # -- publishing ----------------------------------------------------------------------------

    async def _ensure_room(self, session: JanusSession, handle_id: int) -> None:
        async with self._room_lock:
            if self._room_ready:
                return
            body = {
                "request": "create",
                "room": self.room,
                "description": "livetape benchmark reference",
                "permanent": False,
                "is_private": True,
                "publishers": self.max_publishers,
                "bitrate": 0,  # no REMB cap: the senders push pre-encoded media anyway
                "fir_freq": 0,  # no periodic keyframe requests: the source has keyint 30
                "audiocodec": "opus",
                "videocodec": "h264",
                "record": True,
                "rec_dir": str(self.record_dir),
            }
            try:
                await session.message(handle_id, body)
            except JanusError as exc:
                if " 427 " not in f" {exc} ":  # 427 = room already exists
                    raise
            self._room_ready = True

    async def publish(
        self, offer_sdp: str, display: str | None = None, event_timeout: float = 20.0
    ) -> tuple[str, Publisher]:
        """Publish a WebRTC offer into the room; returns (answer SDP, async leave()).

        ``offer_sdp`` must be complete (all ICE candidates inside, as aiortc produces after
        setLocalDescription): the offer is sent with ``trickle: false``. The returned ``leave``
        is a ``Publisher``: awaiting it leaves the room and destroys the Janus session.
        """
        if self._client is None:
            raise RuntimeError("JanusRef is not started")
        session = await JanusSession.create(self._client)
        try:
            handle_id = await session.attach(VIDEOROOM_PLUGIN)
            await self._ensure_room(session, handle_id)
            joined, _ = await session.message(
                handle_id,
                {
                    "request": "join",
                    "ptype": "publisher",
                    "room": self.room,
                    "display": display or f"pub-{session.session_id}",
                },
                event_timeout=event_timeout,
            )
            _, jsep = await session.message(
                handle_id,
                {"request": "configure", "audio": True, "video": True},
                jsep={"type": "offer", "sdp": offer_sdp, "trickle": False},
                event_timeout=event_timeout,
            )
        except BaseException:
            await session.destroy()
            raise
        if not jsep or jsep.get("type") != "answer":
            await session.destroy()
            raise JanusError(f"configure returned no SDP answer: {jsep!r}")
        publisher = Publisher(session, handle_id, int(joined.get("id", 0)))
        self._publishers.append(publisher)
        return str(jsep["sdp"]), publisher


# --------------------------------------------------------------------------------------------
# Counting what Janus recorded
# --------------------------------------------------------------------------------------------


@dataclass
class MjrStats:
    """What one ``.mjr`` file holds."""

    path: Path
    kind: str  # "video", "audio" or "data"
    codec: str
    packets: int = 0
    frames: int = 0  # video: distinct RTP timestamps; audio: packets
    keyframes: int = 0  # video frames with an IDR NAL (H.264 only)
    lost: int = 0  # RTP sequence numbers missing between the first and last packet
    payload_bytes: int = 0  # RTP payload bytes (headers and padding excluded)
    duration_s: float = 0.0  # last - first RTP timestamp
    header: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordingStats:
    """One publisher's recording: its ``.mjr`` files (one per media, more if it republished)."""

    name: str
    files: list[MjrStats] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[MjrStats]:
        """The files of one kind ("video", "audio", "data")."""
        return [f for f in self.files if f.kind == kind]

    @property
    def video(self) -> MjrStats | None:
        """The first video file, if any."""
        return next(iter(self.of_kind("video")), None)

    @property
    def audio(self) -> MjrStats | None:
        """The first audio file, if any."""
        return next(iter(self.of_kind("audio")), None)

    @property
    def video_frames(self) -> int:
        """Video frames (distinct RTP timestamps) recorded, over all video files."""
        return sum(f.frames for f in self.of_kind("video"))

    @property
    def video_packets(self) -> int:
        """Video RTP packets recorded, over all video files."""
        return sum(f.packets for f in self.of_kind("video"))

    @property
    def audio_packets(self) -> int:
        """Audio RTP packets (= Opus frames) recorded, over all audio files."""
        return sum(f.packets for f in self.of_kind("audio"))


def _rtp_payload(packet: bytes) -> bytes:
    """RTP payload without header, CSRCs, header extension and padding (RFC 3550)."""
    if len(packet) < 12:
        return b""
    first = packet[0]
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 2 bytes profile, 2 bytes length in 32-bit words
        if len(packet) < offset + 4:
            return b""
        offset += 4 + 4 * struct.unpack_from("!H", packet, offset + 2)[0]
    end = len(packet)
    if first & 0x20 and end > offset:  # padding: the last byte is the padding length
        end -= packet[-1]
    return packet[offset:end] if end > offset else b""


def _h264_has_idr(payload: bytes) -> bool:
    """Whether an H.264 RTP payload (RFC 6184) carries (the start of) an IDR or SPS NAL unit."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == H264_FU_A:
        return len(payload) > 1 and payload[1] & 0x80 != 0 and payload[1] & 0x1F == H264_NAL_IDR
    if nal_type == H264_STAP_A:
        pos = 1
        while pos + 2 < len(payload):
            size = struct.unpack_from("!H", payload, pos)[0]
            if pos + 2 < len(payload) and payload[pos + 2] & 0x1F == H264_NAL_IDR:
                return True
            pos += 2 + size
        return False
    return nal_type == H264_NAL_IDR


def iter_mjr(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[tuple[int, bytes]]]:
    """Read a MJR00002 file: (JSON info header, [(ms since first packet, RTP packet), ...]).

    A file cut short (janus killed mid-write) yields the packets complete so far.
    """
    data = Path(path).read_bytes()
    if not data.startswith(MJR_MAGIC):
        raise ValueError(f"{path}: not a {MJR_MAGIC.decode()} file (magic {data[:8]!r})")
    pos = len(MJR_MAGIC)
    if len(data) < pos + 2:  # header is written with the first packet: nothing recorded
        return {}, []
    (info_len,) = struct.unpack_from("!H", data, pos)
    pos += 2
    info: dict[str, Any] = json.loads(data[pos : pos + info_len])
    pos += info_len
    packets: list[tuple[int, bytes]] = []
    while pos + 10 <= len(data):
        if data[pos : pos + 4] != MJR_FRAME_MAGIC:
            raise ValueError(f"{path}: bad frame header at byte {pos}")
        ms, length = struct.unpack_from("!IH", data, pos + 4)
        pos += 10
        if pos + length > len(data):
            break
        packets.append((ms, data[pos : pos + length]))
        pos += length
    return info, packets


def parse_mjr(path: str | os.PathLike[str]) -> MjrStats:
    """Count packets, frames, keyframes and losses in one ``.mjr`` recording."""
    info, packets = iter_mjr(path)
    kind = {"v": "video", "a": "audio", "d": "data"}.get(str(info.get("t")), "unknown")
    codec = str(info.get("c", ""))
    stats = MjrStats(path=Path(path), kind=kind, codec=codec, header=info)
    if kind == "data":
        stats.packets = stats.frames = len(packets)
        return stats
    timestamps: set[int] = set()
    key_timestamps: set[int] = set()
    seqs: list[int] = []
    is_h264 = codec.lower() == "h264"
    for _, pkt in packets:
        if len(pkt) < 12:
            continue
        seq, ts = struct.unpack_from("!HI", pkt, 2)
        payload = _rtp_payload(pkt)
        stats.packets += 1
        stats.payload_bytes += len(payload)
        seqs.append(seq)
        timestamps.add(ts)
        if is_h264 and _h264_has_idr(payload):
            key_timestamps.add(ts)
    stats.frames = len(timestamps) if kind == "video" else stats.packets
    stats.keyframes = len(key_timestamps)
    if seqs:
        # Unwrap 16-bit sequence numbers in arrival order, then count the holes.
        unwrapped, base, prev = [], 0, seqs[0]
        for seq in seqs:
            if seq < prev and prev - seq > 0x8000:
                base += 0x10000
            elif seq > prev and seq - prev > 0x8000:
                base -= 0x10000
            unwrapped.append(base + seq)
            prev = seq
        stats.lost = max(0, max(unwrapped) - min(unwrapped) + 1 - len(set(unwrapped)))
    if timestamps:
        clock = VIDEO_CLOCK_HZ if kind == "video" else AUDIO_CLOCK_HZ
        # Sorted span is fine for runs far shorter than the 32-bit wrap (13 h at 90 kHz).
        stats.duration_s = (max(timestamps) - min(timestamps)) / clock
    return stats


# VideoRoom 1.x names files videoroom-<room>-user-<id>-<open time us>-<audio|video|data>-<mindex>
# .mjr; each medium has its own open time, so group by what precedes it.
_MJR_NAME = re.compile(r"^(?P<base>.+?)(?:-\d+)?-(?P<kind>audio|video|data)(?:-\d+)?\.mjr$")


def recorded_frames(record_dir: str | os.PathLike[str]) -> dict[str, RecordingStats]:
    """Per recording (publisher), the video frames/packets and audio packets Janus wrote.

    Keys are ``videoroom-<room>-user-<publisher id>``. Call it after the publishers left (or
    janus stopped): Janus writes through stdio buffers and only flushes the tail when it closes
    a recording.
    """
    result: dict[str, RecordingStats] = {}
    for path in sorted(Path(record_dir).glob("*.mjr")):
        match = _MJR_NAME.match(path.name)
        base = match.group("base") if match else path.stem
        result.setdefault(base, RecordingStats(name=base)).files.append(parse_mjr(path))
    return result


# --------------------------------------------------------------------------------------------
# Optional cross-check through Janus's own post-processor (not part of any measured CPU)
# --------------------------------------------------------------------------------------------


def pp_rec_binary() -> str | None:
    """Path of ``janus-pp-rec`` (Debian package ``janus-tools``), or None."""
    return shutil.which("janus-pp-rec")


def postprocess(
    record_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> dict[Path, Path]:
    """Convert every ``.mjr`` with ``janus-pp-rec`` (H.264 -> .mp4, Opus -> .opus).

    Returns {mjr path: output path} for the conversions that produced a file.
    """
    binary = pp_rec_binary()
    if binary is None:
        raise FileNotFoundError("janus-pp-rec not found: apt-get install -y janus-tools")
    out = Path(out_dir) if out_dir else Path(record_dir)
    out.mkdir(parents=True, exist_ok=True)
    converted: dict[Path, Path] = {}
    for mjr in sorted(Path(record_dir).glob("*.mjr")):
        info, _ = iter_mjr(mjr)
        ext = {"h264": "mp4", "opus": "opus", "vp8": "webm", "vp9": "webm"}.get(
            str(info.get("c", "")).lower()
        )
        if ext is None:
            continue
        target = out / f"{mjr.stem}.{ext}"
        subprocess.run(
            [binary, "--debug-level", "2", str(mjr), str(target)],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if target.exists() and target.stat().st_size > 0:
            converted[mjr] = target
    return converted


def count_container_packets(path: str | os.PathLike[str]) -> int:
    """Packets (= frames for video, Opus frames for audio) in a media file, via PyAV demux."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for pkt in container.demux(container.streams[0]) if pkt.size > 0)
