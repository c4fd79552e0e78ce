"""Bad ICE settings stop ``livetape serve`` with one line naming the variable: the shared UDP
port in use, an announced address that is not an IP, a port and a range together, a range
that is not one, a public address to learn with no STUN server (or one that does not answer)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from livetape_harness.server import free_udp_port, serve_once


def test_a_shared_port_in_use_stops_start_up(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        done = serve_once(tmp_path, LIVETAPE_ICE_UDP_PORT=str(port))
    assert done.returncode != 0
    assert "LIVETAPE_ICE_UDP_PORT" in done.stderr and f"UDP port {port}" in done.stderr, (
        done.stderr)
    assert "already in use" in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize(("env", "says"), [
    ({"LIVETAPE_ICE_PUBLIC_IPS": "203.0.113.7,my-vm.example.org"},
     "LIVETAPE_ICE_PUBLIC_IPS: 'my-vm.example.org' is not an IP address"),
    ({"LIVETAPE_ICE_UDP_PORT": "7881", "LIVETAPE_ICE_UDP_PORTS": "50000-50100"},
     "exclude each other"),
    ({"LIVETAPE_ICE_UDP_PORTS": "50100-50000"}, "LIVETAPE_ICE_UDP_PORTS: 50100-50000 is not"),
    ({"LIVETAPE_ICE_UDP_PORTS": "fifty"}, "is not a port range"),
    ({"LIVETAPE_ICE_UDP_PORT": "70000"}, "LIVETAPE_ICE_UDP_PORT"),
    ({"LIVETAPE_ICE_DISCOVER_PUBLIC_IP": "true"}, "needs a stun: URL"),
], ids=["not-an-ip", "port-and-range", "range-backwards", "range-not-a-range", "port-too-big",
        "discover-without-stun"])
def test_bad_ice_settings_stop_start_up(tmp_path: Path, env: dict[str, str],
                                        says: str) -> None:
    done = serve_once(tmp_path, **env)
    assert done.returncode != 0
    assert "bad settings" in done.stderr and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_stun_server_that_does_not_answer_stops_start_up(tmp_path: Path) -> None:
    silent = free_udp_port()  # nothing listens there
    done = serve_once(tmp_path, LIVETAPE_STUN_URLS=f"stun:127.0.0.1:{silent}",
                      LIVETAPE_ICE_DISCOVER_PUBLIC_IP="true")
    assert done.returncode != 0
    assert "LIVETAPE_ICE_DISCOVER_PUBLIC_IP" in done.stderr and "no answer" in done.stderr, (
        done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
