"""A real livetape server in a subprocess, on loopback, with its own data folder and database.

Tests drive it over real HTTP and WebRTC. A subprocess (not a thread) because the recorder's
aiortc hook is process-wide and because crash tests kill -9 it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from livetape.live.udp_stats import udp_sockets


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_udp_port() -> int:
    """A UDP port free on every address right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 0))
        port: int = sock.getsockname()[1]
        return port


def udp_ports_of(pid: int) -> list[tuple[str, int]]:
    """The (local address in the kernel's hex form, port) of every UDP socket process
    ``pid`` holds open."""
    return [(sock.address, sock.port) for sock in udp_sockets(str(pid))]


def create_postgres_database(admin_url: str) -> str:
    """A fresh, empty database on the test PostgreSQL server; returns its URL."""
    name = f"livetape_test_{uuid.uuid4().hex[:12]}"
    url = make_url(admin_url)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, db_url: str) -> None:
    name = make_url(db_url).database
    conninfo = make_url(admin_url).set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class LiveServer:
    data_dir: Path
    database_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"  # where it listens ("0.0.0.0": other namespaces reach it too)
    process: subprocess.Popen[bytes] | None = None
    app_id: str = ""
    secret_key: str = ""
    start_seconds: float = 90.0  # how long start() waits for /healthz (a loaded host is slow)

    @property
    def url(self) -> str:
        scheme = "https" if "LIVETAPE_TLS_CERT" in self.env else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> str | bool:
        """What an HTTP client checks the server's certificate against (its own, self-signed)."""
        return self.env.get("LIVETAPE_TLS_CERT", True)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["LIVETAPE_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["LIVETAPE_DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str) -> dict[str, str]:
        """Run the livetape CLI against this server's data; returns its JSON output."""
        out = subprocess.run(
            [sys.executable, "-m", "livetape", *args], env=self._env(), check=True,
            capture_output=True, timeout=60,
        )
        result: dict[str, str] = json.loads(out.stdout)
        return result

    def cli_raw(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """Run the livetape CLI; the completed process (exit code, stdout, stderr)."""
        return subprocess.run([sys.executable, "-m", "livetape", *args], env=self._env(),
                              capture_output=True, timeout=300)

    def cli_tty(self, *args: str) -> tuple[int, bytes, str]:
        """Run the livetape CLI with stderr on a terminal (progress bars draw only there);
        returns the exit code, stdout and what the terminal showed."""
        import pty

        primary, secondary = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "livetape", *args], env=self._env(),
                                   stdout=subprocess.PIPE, stderr=secondary)
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        os.close(primary)
        stdout = process.stdout.read() if process.stdout else b""
        return process.wait(timeout=300), stdout, shown.decode(errors="replace")

    @staticmethod
    def cli_json(done: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def children(self) -> list[int]:
        """Pids of the server's child processes (its processing workers)."""
        assert self.process is not None
        pid = self.process.pid
        found: list[int] = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found += [int(child) for child in text]
        return found

    def create_app(self, name: str = "test") -> tuple[str, str]:
        created = self.cli("app", "create", name)
        return created["app_id"], created["secret_key"]

    def start(self) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.app_id:
            self.app_id, self.secret_key = self.create_app()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "livetape", "-v", "serve", "--host", self.host,
             "--port", str(self.port)],
            env=self._env(), stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.start_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1,
                             verify=self.verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


ServerFactory = Callable[..., LiveServer]  # the start_server fixture: options -> a running server


def serve_once(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``livetape serve`` with these settings (``LIVETAPE_*`` variables), expected to stop at
    once (a bad setting); its exit code and output."""
    server = LiveServer(data_dir, env={"LIVETAPE_PORT": str(free_port()), **env})
    return subprocess.run(
        [sys.executable, "-m", "livetape", "serve"],
        env=server._env(), capture_output=True, text=True, timeout=60,
    )
