"""HTTPS from livetape itself (LIVETAPE_TLS_CERT / LIVETAPE_TLS_KEY), and bad TLS settings
that stop ``livetape serve`` with a one-line reason instead of a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from livetape_harness.certs import self_signed
from livetape_harness.server import ServerFactory, serve_once


def test_the_api_answers_over_https_only(start_server: ServerFactory, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls")
    server = start_server(tls_cert=cert, tls_key=key)
    assert server.url.startswith("https://")
    with httpx.Client(base_url=server.url, verify=str(cert), timeout=10) as http:
        made = http.post("/v1/rooms", json={"room_id": "secure", "type": "multi"},
                         headers={"Authorization": f"Bearer {server.secret_key}"})
        assert made.status_code == 201, made.text
        assert http.get("/v1/rooms/secure", headers={
            "Authorization": f"Bearer {server.secret_key}"}).json()["room_id"] == "secure"
        assert http.get("/v1/rooms/secure").json()["code"] == 1001  # no credentials
    with pytest.raises(httpx.HTTPError):  # the port speaks TLS only
        httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    with pytest.raises(httpx.ConnectError):  # a client that does not trust the certificate
        httpx.get(f"{server.url}/healthz", timeout=5)


@pytest.mark.parametrize("case", ["missing-file", "not-a-certificate", "key-alone",
                                  "wrong-key"])
def test_bad_tls_settings_stop_start_up(tmp_path: Path, case: str) -> None:
    cert, key = self_signed(tmp_path / "tls")
    _, other_key = self_signed(tmp_path / "other")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    env, says = {
        "missing-file": ({"LIVETAPE_TLS_CERT": str(tmp_path / "nope.pem"),
                          "LIVETAPE_TLS_KEY": str(key)}, "LIVETAPE_TLS_CERT: no file"),
        "not-a-certificate": ({"LIVETAPE_TLS_CERT": str(garbage), "LIVETAPE_TLS_KEY": str(key)},
                              "do not load"),
        "key-alone": ({"LIVETAPE_TLS_KEY": str(key)}, "go together"),
        "wrong-key": ({"LIVETAPE_TLS_CERT": str(cert), "LIVETAPE_TLS_KEY": str(other_key)},
                      "do not load"),
    }[case]
    done = serve_once(tmp_path / "data", **env)
    assert done.returncode != 0
    assert "bad settings" in done.stderr and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_bad_setting_stops_start_up_in_one_line(tmp_path: Path) -> None:
    done = serve_once(tmp_path / "data", LIVETAPE_TRUSTED_PROXIES="not-an-ip")
    assert done.returncode != 0 and "LIVETAPE_TRUSTED_PROXIES" in done.stderr, done.stderr
    assert "not an IP address" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_port_in_use_stops_start_up(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve_once(tmp_path / "data", LIVETAPE_PORT=str(port))
    assert done.returncode != 0
    assert "address already in use" in done.stderr.lower(), done.stderr
