"""Janus VideoRoom as the C reference for livetape's capacity benchmark.

This module runs Debian's ``janus`` (1.1.x) as a subprocess with a config set of its own (nothing
under /etc is read or changed) and measures the Janus process (CPU seconds, peak RSS); offers are
published into one VideoRoom room with recording on through Janus's plain HTTP API. The pieces
live in :mod:`janus_config` (install + config folder), :mod:`janus_api` (HTTP API sessions),
:mod:`janus_videoroom` (room + publishers) and :mod:`janus_mjr` (counting the ``.mjr``
recordings), the /proc readers in :mod:`procfs`; the names the benchmark uses are re-exported here.

Typical use::

    async with JanusRef() as janus:
        answer_sdp, leave = await janus.publish(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
        ...
        await leave()
    stats = recorded_frames(janus.record_dir)

Requirements: ``apt-get install janus`` (``janus-tools`` too for the optional ``janus-pp-rec``
cross-check), ``httpx`` and ``aioice`` (an aiortc dependency) in the venv.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from janus_api import VIDEOROOM_PLUGIN, JanusError, post_request
from janus_config import find_janus, free_tcp_port, host_address, render_config
from janus_mjr import (
    MjrStats,
    RecordingStats,
    count_container_packets,
    postprocess,
    pp_rec_binary,
    recorded_frames,
)
from janus_videoroom import Publisher, VideoRoom
from procfs import proc_cpu_seconds, proc_status_bytes

# Re-exported: the harness's users import what they need from janus_ref alone.
__all__ = [
    "JanusError", "JanusRef", "MjrStats", "Publisher", "RecordingStats",
    "count_container_packets", "postprocess", "pp_rec_binary", "proc_cpu_seconds",
    "proc_status_bytes", "recorded_frames",
]

logger = logging.getLogger(__name__)


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
        self.debug_level = debug_level
        self.startup_timeout = startup_timeout
        self.videoroom = VideoRoom(room, max_publishers, self.record_dir)
        self._proc: asyncio.subprocess.Process | None = None
        self.server_info: dict[str, Any] = {}  # janus's answer to {"janus": "info"}
        self._client: httpx.AsyncClient | None = None
        self._publishers: list[Publisher] = []
        # Last values read from /proc, so they stay readable after the process is gone.
        self._last_cpu = 0.0
        self._last_hwm = 0

    @property
    def room(self) -> int:
        """The VideoRoom room id publishers join."""
        return self.videoroom.room

    @property
    def max_publishers(self) -> int:
        """Publisher limit the room is created with."""
        return self.videoroom.max_publishers

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
                reply = await post_request(
                    self._client, "/janus", {"janus": "info"}, http_timeout=2.0
                )
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

    async def publish(
        self, offer_sdp: str, display: str | None = None, event_timeout: float = 20.0
    ) -> tuple[str, Publisher]:
        """Publish a WebRTC offer into the room; returns (answer SDP, async leave()).

        ``offer_sdp`` must be complete (all ICE candidates inside, as aiortc produces after
        setLocalDescription): the offer is sent with ``trickle: false``. The returned ``leave``
        is a ``Publisher``: awaiting it leaves the room and destroys the Janus session.
        ``stop()`` leaves every publisher still in the room.
        """
        if self._client is None:
            raise RuntimeError("JanusRef is not started")
        answer_sdp, publisher = await self.videoroom.publish(
            self._client, offer_sdp, display, event_timeout
        )
        self._publishers.append(publisher)
        return answer_sdp, publisher
