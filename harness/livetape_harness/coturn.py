"""Debian's coturn for tests: a TURN server checking livetape's TURN REST credentials, or a
plain STUN server (``stun_only``), optionally inside a network namespace."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SECRET = "a-shared-secret-of-some-length"  # coturn's static-auth-secret = LIVETAPE_TURN_SECRET
TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"


def require_coturn() -> None:
    if Path(TURNSERVER).exists():
        return
    if os.environ.get("LIVETAPE_TEST_REQUIRE_CLIENTS") == "1":
        pytest.fail("coturn is not installed but LIVETAPE_TEST_REQUIRE_CLIENTS=1")
    pytest.skip("coturn is not installed (make install-test installs it)")


def _free_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0" if ip != "127.0.0.1" else ip, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def start_coturn(work: Path, ip: str = "127.0.0.1", *, stun_only: bool = False,
                 netns: str | None = None) -> Iterator[int]:
    """coturn listening (and relaying) on ``ip``; yields its port. Its log is in ``work``."""
    require_coturn()
    port = _free_port(ip)
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "turnserver.log"
    command = [TURNSERVER, "-n", f"--listening-ip={ip}", f"--listening-port={port}",
               "--realm=livetape.test", "--no-tls", "--no-dtls", "--no-cli",
               "--log-file=stdout", "--simple-log"]
    if stun_only:
        command += ["--stun-only"]
    else:
        command += [f"--relay-ip={ip}", "--use-auth-secret", f"--static-auth-secret={SECRET}",
                    "--allow-loopback-peers", "--min-port=49152", "--max-port=65535"]
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while b"Total General servers" not in log_path.read_bytes():  # its listeners are up
            assert process.poll() is None, log_path.read_text(errors="replace")
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        time.sleep(0.3)
        assert process.poll() is None, log_path.read_text(errors="replace")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
