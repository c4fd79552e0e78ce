"""``livetape serve`` (the server) and ``livetape worker`` (a processing worker)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import TYPE_CHECKING

import click

from livetape import log_context
from livetape.cli.options import DATA_DIR, settings_from, with_apps
from livetape.config import Settings

if TYPE_CHECKING:
    from livetape.auth.apps import AppService
    from livetape.db.models import App


@click.command()
@click.option("--host", default=None, help="Listen address [LIVETAPE_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Listen port [LIVETAPE_PORT, 8080].")
@DATA_DIR
@click.option("--demo", is_flag=True, help="Create (once) and print a demo app's credentials.")
@click.option("--media-processes", type=int, default=None,
              help="Processes receiving WebRTC media, one per core [LIVETAPE_MEDIA_PROCESSES, 1].")
def serve(host: str | None, port: int | None, data_dir: str | None, demo: bool,
          media_processes: int | None) -> None:
    """Run the server (migrates the database first)."""
    settings = check_network(check_storage(settings_from(
        data_dir, host=host, port=port, media_processes=media_processes)))
    if settings.media_processes == 1:
        _serve(settings, demo)
        return
    from livetape.cli.media_processes import MediaProcesses, NatsMissing, PrivateNats
    from livetape.medianode.media_layout import media_settings

    private = None
    if not settings.nats_url:
        try:
            private = PrivateNats(settings.data_dir / "nats").start()
        except NatsMissing as exc:
            raise click.ClickException(str(exc)) from None
    nats_url = settings.nats_url or (private.url if private else "")
    # the server is media process 0; no validation here: one control plane on SQLite is fine
    children = MediaProcesses(settings, nats_url)  # each takes its slice of these settings
    settings = media_settings(settings, 0).model_copy(update={"nats_url": nats_url})
    # uvicorn raises the SIGTERM it caught again once it stopped (and one may come before
    # it listens): an exit that runs the finally below, which stops the media processes and
    # the private NATS in order
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    children.start()
    click.echo(f"{settings.media_processes} media processes (the server and pids "
               f"{', '.join(map(str, children.pids)) or 'starting'}), NATS at {nats_url}",
               err=True)
    try:
        _serve(settings, demo)
    finally:  # the server's recordings ended and landed: the children hold none any more
        children.stop()
        if private is not None:
            private.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _serve(settings: Settings, demo: bool) -> None:
    import uvicorn

    from livetape.api.factory import create_app

    logging.getLogger("livetape").setLevel(logging.INFO)
    if settings.log_format == "json":  # uvicorn's lines too (it then configures no logging)
        log_context.configure("json", logging.getLogger().level)
    scheme = "https" if settings.tls_cert else "http"
    url = settings.public_url or f"{scheme}://{settings.host}:{settings.port}"
    if demo:
        async def demo_app(apps: AppService) -> App:
            return await apps.first_named("demo") or await apps.create("demo")

        app = with_apps(settings, demo_app)
        click.echo(f"livetape {url}  (API docs: {url}/docs)")
        click.echo(f"demo app: app_id={app.app_id} secret_key={app.secret_key}")
    # X-Forwarded-* are believed only from LIVETAPE_TRUSTED_PROXIES, by the app itself:
    # uvicorn's own proxy_headers would believe them from 127.0.0.1 (or FORWARDED_ALLOW_IPS)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level="info", lifespan="on", loop="uvloop", proxy_headers=False,
                log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
                ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key)


def check_storage(settings: Settings) -> Settings:
    """Reach the storage now (the folder takes a file; the S3 bucket exists and the
    credentials are taken), so that a store that is down, a missing bucket or a wrong key
    stops the command with one line instead of failing the first recording."""
    from livetape.storage import StorageError, create_storage

    storage = create_storage(settings)
    try:
        asyncio.run(storage.check())
    except StorageError as exc:
        raise click.ClickException(f"bad settings:\n  LIVETAPE_STORAGE_URL: {exc}") from None
    finally:
        storage.close()
    return settings


def check_network(settings: Settings) -> Settings:
    """Bind-test the shared ICE port and learn the public address now, so that a port in
    use or a STUN server that does not answer stops ``serve`` with one line, not a traceback
    from inside the server's start-up. The learned address is handed on as a listed one."""
    from livetape.live.ice_network import IcePlan, check_ports
    from livetape.live.public_address import DiscoveryError, discover_public_ip
    from livetape.live.udp_mux import BindError
    from livetape.medianode.media_layout import media_settings

    try:
        for index in range(settings.media_processes):  # each media process's own port
            check_ports(IcePlan.from_settings(media_settings(settings, index)))
    except BindError as exc:
        raise click.ClickException(f"bad settings:\n  LIVETAPE_ICE_UDP_PORT: {exc.strerror}"
                                   ) from None
    except ValueError as exc:  # a port range too small for the media processes
        raise click.ClickException(f"bad settings:\n  {exc}") from None
    plan = IcePlan.from_settings(settings)
    if plan.discover_from is None:
        return settings
    try:
        learned = asyncio.run(discover_public_ip(plan.discover_from))
    except DiscoveryError as exc:
        raise click.ClickException(f"bad settings:\n  LIVETAPE_ICE_DISCOVER_PUBLIC_IP: {exc}"
                                   ) from None
    click.echo(f"public address {learned} (learned from {plan.discover_from})", err=True)
    return settings.model_copy(update={
        "ice_public_ips": [*settings.ice_public_ips, learned], "ice_discover_public_ip": False})


@click.command()
@DATA_DIR
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Exit when this process (the server that started us) is gone.")
def worker(data_dir: str | None, parent_pid: int | None) -> None:
    """Run a processing worker (transcode, snapshots, watermark) until SIGTERM.

    Point it at the server's database (LIVETAPE_DATABASE_URL) and storage; any number may run.
    """
    from livetape.jobs.worker import run_worker

    logging.getLogger("livetape").setLevel(logging.INFO)
    settings = settings_from(data_dir)
    if settings.log_format == "json":
        log_context.configure("json", logging.getLogger().level)
    if parent_pid is None:  # the server's own workers: it checked (and an outage restarts none)
        settings = check_storage(settings)
    asyncio.run(run_worker(settings, parent_pid=parent_pid))


@click.command("media-node", hidden=True)
@DATA_DIR
@click.option("--index", type=int, required=True, help="Which media process (1..N-1).")
@click.option("--parent-pid", type=int, required=True, help="The server: exit when it is gone.")
@click.option("--nats-url", required=True, help="The NATS the server's media processes share.")
def media_node(data_dir: str | None, index: int, parent_pid: int, nats_url: str) -> None:
    """A media-only process of ``livetape serve --media-processes N`` (started by it)."""
    from livetape.medianode.media_process import run_media_process

    logging.getLogger("livetape").setLevel(logging.INFO)
    settings = settings_from(data_dir).model_copy(update={"nats_url": nats_url})
    logging.getLogger(__name__).info("media process %d starting", index)

    async def run() -> None:
        try:
            await run_media_process(settings, parent_pid)
        finally:  # stopped: end now (a NATS client reconnecting to a gone server would not
            logging.shutdown()  # let asyncio.run's cancellation of leftover tasks finish)
            os._exit(0)

    asyncio.run(run())
