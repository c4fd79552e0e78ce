"""Debian's nginx run as this user from a generated configuration: a prefix folder holding
its config, pid, logs and temporary files. The benchmarks' reference file server and the
reverse-proxy tests both start it this way (:func:`start_example`: the deploy example in
front of a livetape server)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

import httpx
import pytest

from livetape_harness.certs import self_signed
from livetape_harness.server import LiveServer, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def write_config(prefix: Path, http: str) -> Path:
    """Write ``prefix/nginx.conf``: one worker, everything under ``prefix``, and ``http`` (the
    directives and server blocks) inside its ``http`` block; returns its path."""
    for kind in TEMP_KINDS:
        (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    temp = "\n".join(f"    {kind}_temp_path {prefix}/tmp/{kind};" for kind in TEMP_KINDS)
    # as root the workers would switch to 'nobody', who cannot enter the 0700 work dir
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
{temp}
{http}
}}
""")
    return conf


def start(prefix: Path, conf: Path) -> subprocess.Popen[bytes]:
    """nginx in the foreground (its master is the returned process); its own output goes to
    ``prefix/stderr.log``, its error log to ``prefix/error.log``."""
    log = (prefix / "stderr.log").open("ab")
    return subprocess.Popen([NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"),
                             "-c", str(conf), "-g", "daemon off;"],
                            stdout=log, stderr=subprocess.STDOUT)


EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx-livetape.conf"


def start_example(prefix: Path, livetape_port: int, storage: Path, timeout: float = 15.0,
                  secure_link_secret: str = "secure-link-secret-unused"
                  ) -> tuple[subprocess.Popen[bytes], str, str]:
    """The README's example (deploy/nginx-livetape.conf) in front of a livetape server on
    ``livetape_port`` whose storage folder is ``storage``: TLS on a free loopback port with a
    self-signed certificate, access log off, ``secure_link_secret`` in its secure_link
    location. Waits for ``/healthz`` through it; returns (the nginx process, its https URL,
    the certificate's path to verify against)."""
    cert, key = self_signed(prefix / "tls")
    port = free_port()
    site = Template(EXAMPLE.read_text()).safe_substitute(
        LISTEN=f"127.0.0.1:{port}", SERVER_NAME="localhost", TLS_CERT=str(cert),
        TLS_KEY=str(key), LIVETAPE=f"127.0.0.1:{livetape_port}", STORAGE=str(storage),
        SECURE_LINK_SECRET=secure_link_secret)
    process = start(prefix, write_config(prefix, f"    access_log off;\n{site}"))
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", verify=str(cert), timeout=1).status_code == 200:
                return process, url, str(cert)
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError("nginx did not start: " + (prefix / "error.log").read_text())
        time.sleep(0.1)


def require_nginx() -> None:
    """Skip the test without Debian's nginx (fail it when the clients are required)."""
    if Path(NGINX).exists():
        return
    if os.environ.get("LIVETAPE_TEST_REQUIRE_CLIENTS") == "1":
        pytest.fail("nginx is not installed but LIVETAPE_TEST_REQUIRE_CLIENTS=1")
    pytest.skip("nginx is not installed (make install-test installs it)")


@contextmanager
def example_in_front(server: LiveServer, prefix: Path,
                     secure_link_secret: str = "secure-link-secret-unused"
                     ) -> Iterator[tuple[str, str]]:
    """:func:`start_example` before ``server`` (its own storage folder) for the ``with``
    block: yields (the https URL, the certificate's path); nginx stops at the end."""
    require_nginx()
    process, url, cert = start_example(prefix, server.port, server.data_dir.resolve() / "storage",
                                       secure_link_secret=secure_link_secret)
    try:
        yield url, cert
    finally:
        process.terminate()
        process.wait(timeout=10)
