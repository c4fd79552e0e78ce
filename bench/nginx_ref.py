"""Debian's nginx as the serving benchmark's reference: a generated config, one process tree.

nginx runs as this user from a config written into its own prefix folder: one worker process
(livetape is one process too), ``sendfile on``, ``access_log off``, ``keepalive_requests``
lifted (uvicorn never closes a keep-alive connection) and ``location /media/`` aliased to
livetape's storage folder, so the same path (and query string, which nginx ignores) reaches
the same bytes. With ``accel`` (a second livetape's port and storage folder), a second server
block is the deploy example without TLS: livetape (LIVETAPE_ACCEL_REDIRECT=/internal/) behind
it over kept-alive upstream connections, and the ``internal`` location nginx sends its files
from. Its CPU is the master's plus its workers', from /proc.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from livetape_harness import nginx
from livetape_harness.nginx import NGINX
from livetape_harness.server import free_port
from procfs import proc_cpu_seconds


def nginx_version() -> str:
    """``nginx/1.x.y`` as ``nginx -v`` prints it ("not installed" without it: --skip-nginx)."""
    if not Path(NGINX).exists():
        return "not installed"
    done = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
    return done.stderr.strip().removeprefix("nginx version: ")


@dataclass
class NginxRef:
    """Debian's nginx as this user: a generated config in ``prefix``, serving ``storage``."""

    prefix: Path
    storage: Path
    accel: tuple[int, Path] | None = None  # (livetape's port, its storage folder)
    port: int = field(default_factory=free_port)
    accel_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        """The ``http`` block's content: the same bytes as livetape's ``/media/`` paths."""
        return f"""    access_log off;
    sendfile on;  # no tcp_nopush: corked, 64 KiB bodies waited 40 ms for delayed ACKs
    keepalive_requests 1000000;  # the default (1000) would reconnect; uvicorn never does
    types {{ video/mp4 mp4; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.port};
        location /media/ {{ alias {self.storage}/; }}
    }}{self.accel_config()}"""

    def accel_config(self) -> str:
        """The X-Accel-Redirect server block (deploy/nginx-livetape.conf without TLS)."""
        if self.accel is None:
            return ""
        port, storage = self.accel
        return f"""
    upstream livetape_accel {{ server 127.0.0.1:{port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{self.accel_port};
        proxy_buffering off;
        location / {{
            proxy_pass http://livetape_accel;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header Connection "";
        }}
        location /internal/ {{
            internal;
            alias {storage}/;
            add_header Access-Control-Allow-Origin $upstream_http_access_control_allow_origin;
            add_header Access-Control-Expose-Headers
                $upstream_http_access_control_expose_headers;
        }}
    }}"""

    def url(self, livetape_url: str, *, accel: bool = False) -> str:
        """The same path and query on nginx's port (the X-Accel server's with ``accel``)."""
        port = self.accel_port if accel else self.port
        return urlsplit(livetape_url)._replace(netloc=f"127.0.0.1:{port}").geturl()

    def start(self) -> None:
        self.process = nginx.start(self.prefix, nginx.write_config(self.prefix, self.config()))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("nginx exited: " + self.log_tail())
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.5):
                if self.workers():
                    return
            time.sleep(0.05)
        raise RuntimeError("nginx did not start: " + self.log_tail())

    def log_tail(self) -> str:
        logs = [self.prefix / "stderr.log", self.prefix / "error.log"]
        return " | ".join(p.read_text(errors="replace")[-1500:] for p in logs if p.exists())

    def workers(self) -> list[int]:
        """The master's children (the worker processes), from /proc."""
        assert self.process is not None
        master, found = self.process.pid, []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat[stat.rindex(")") + 2:].split()[1]) == master:
                        found.append(int(entry.name))
        return found

    def cpu_seconds(self) -> float:
        """Master + workers, user + system."""
        assert self.process is not None
        return sum(proc_cpu_seconds(pid) for pid in [self.process.pid, *self.workers()])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
