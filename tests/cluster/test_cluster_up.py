"""``livetape cluster up``: NATS, SeaweedFS and N nodes on one PostgreSQL database start,
every node answers joined to NATS, stores into the one S3 bucket and holds its own ICE UDP
port, a busy port is refused in one line, and SIGINT stops them all (nodes first).

(Flakiness seen once in 4 runs, before: the nodes took consecutive ports that nobody checked
were free, started one after the other with 60 s each on a loaded 2-core machine (a start
took ~20 s there), NATS was not awaited before the first node, the first node's stdout was
a pipe nobody read after its first lines (its access log would fill it and hang the node),
and the stop sent SIGTERM to NATS with the nodes, so they shut down without it. Now: ports
checked up front, NATS and SeaweedFS ready before any node, the nodes start together and
each is awaited until it is joined to NATS, logs go to files, nodes stop before the stores.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from livetape_harness.server import udp_ports_of

NODES = 2


def free_run(count: int, *, udp: bool = False, grpc: bool = False) -> int:
    """A first port p with p..p+count-1 free (and each plus 10000 with ``grpc``)."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    while True:
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count + 10000 >= 65535:
            continue
        wanted = [first + i for i in range(count)]
        wanted += [p + 10000 for p in wanted[1:]] if grpc else []
        try:
            holders = []
            for port in wanted:
                sock = socket.socket(socket.AF_INET, kind)
                holders.append(sock)
                sock.bind(("0.0.0.0" if udp else "127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in holders:
                sock.close()


def cluster_up(db: str, folder: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "livetape", "cluster", "up", "--dir", str(folder), *args],
        env={**os.environ, "LIVETAPE_DATABASE_URL": db}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True)


def test_cluster_up_starts_answers_and_stops(cluster_db: str, tmp_path: Path) -> None:
    port, nats_port = free_run(NODES), free_run(1)
    ice_port, s3_port = free_run(NODES, udp=True), free_run(4, grpc=True)
    up = cluster_up(cluster_db, tmp_path / "c", "--nodes", str(NODES), "--port", str(port),
                    "--nats-port", str(nats_port), "--ice-port", str(ice_port),
                    "--s3-port", str(s3_port))
    try:
        assert up.stdout is not None
        lines = []
        while not lines or lines[-1] != "ready (Ctrl-C stops the cluster)":
            line = up.stdout.readline().decode()
            assert line, (lines, up.stderr.read().decode() if up.stderr else "")
            lines.append(line.strip())
        assert any(x.startswith("demo app: app_id=") for x in lines)
        assert f"S3 http://127.0.0.1:{s3_port} bucket livetape" in "\n".join(lines)
        urls = [x.split()[1] for x in lines if x.startswith("node")]
        assert urls == [f"http://127.0.0.1:{port + i}" for i in range(NODES)]
        for index, url in enumerate(urls):
            health = httpx.get(f"{url}/healthz").json()
            assert health["cluster"]["nats_connected"] is True
            assert health["cluster"]["node_id"] == f"node{index + 1}"
        pids = _node_pids(tmp_path / "c")
        for index, pid in enumerate(pids):  # each node holds its own ICE port
            assert ice_port + index in [p for _, p in udp_ports_of(pid)]

        # a second cluster on the same ports is refused in one line, before starting anything
        again = cluster_up(cluster_db, tmp_path / "d", "--nodes", str(NODES), "--port",
                           str(port), "--nats-port", str(nats_port), "--ice-port",
                           str(ice_port), "--s3-port", str(s3_port))
        _, err = again.communicate(timeout=120)
        assert again.returncode != 0 and b"port(s) in use" in err, err
        assert b"Traceback" not in err

        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=120) == 0, up.stderr.read() if up.stderr else ""
        for url in urls:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                raise AssertionError(f"{url} still answers")
            except httpx.HTTPError:
                pass
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)
    finally:
        if up.poll() is None:  # it stops what it started (each in a session of its own)
            up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)


def _node_pids(folder: Path) -> list[int]:
    """The nodes' pids, by node, from their logs ("Started server process [PID]")."""
    pids = []
    for index in range(NODES):
        text = (folder / f"node{index + 1}" / "server.log").read_text()
        pids.append(int(text.split("Started server process [", 1)[1].split("]", 1)[0]))
    return pids


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return "Z"
