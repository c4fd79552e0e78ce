"""``livetape cluster up``: NATS and N nodes on one PostgreSQL database start, every node
answers (and sees the others), and SIGINT stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from livetape_harness.server import free_port


def test_cluster_up_starts_answers_and_stops(cluster_db: str, tmp_path: Path) -> None:
    port, nats_port = free_port(), free_port()
    env = {**os.environ, "LIVETAPE_DATABASE_URL": cluster_db}
    up = subprocess.Popen(
        [sys.executable, "-m", "livetape", "cluster", "up", "--nodes", "2", "--port", str(port),
         "--nats-port", str(nats_port), "--dir", str(tmp_path / "c")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert up.stdout is not None
        lines = []
        while not lines or lines[-1] != "ready (Ctrl-C stops the cluster)":
            line = up.stdout.readline().decode()
            assert line, up.stderr.read().decode() if up.stderr else ""
            lines.append(line.strip())
        assert any(x.startswith("demo app: app_id=") for x in lines)
        urls = [x.split()[1] for x in lines if x.startswith("node")]
        assert urls == [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
        for url in urls:
            health = httpx.get(f"{url}/healthz").json()
            assert health["cluster"]["nats_connected"] is True
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
        for url in urls:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                raise AssertionError(f"{url} still answers")
            except httpx.HTTPError:
                pass
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
