"""The ``livetape`` command: serve, app, token, publish, record, vod (billing: its own module)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from livetape.cli.billing_commands import billing
from livetape.config import Settings

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"


def _settings(data_dir: str | None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = Path(data_dir)
    return Settings(**values)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _with_apps(settings: Settings, job: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``job(AppService)`` against the configured database (no server needed)."""
    from livetape.auth.apps import AppService
    from livetape.db.session import run_against

    return run_against(settings.resolved_database_url(), lambda db: job(AppService(
        db.sessions, token_ttl=settings.token_default_ttl_seconds,
        max_token_ttl=settings.max_token_ttl_seconds)))


def _client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--url", default=lambda: os.environ.get("LIVETAPE_URL", DEFAULT_URL),
                      show_default="$LIVETAPE_URL or " + DEFAULT_URL, help="Server URL.")(fn)
    fn = click.option("--key", envvar="LIVETAPE_SECRET_KEY",
                      help="App secret key (server-side calls). Env: LIVETAPE_SECRET_KEY.")(fn)
    return click.option("--token", envvar="LIVETAPE_TOKEN",
                        help="User token (client calls). Env: LIVETAPE_TOKEN.")(fn)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """livetape: recording for interactive live video."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default=None, help="Listen address [LIVETAPE_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Listen port [LIVETAPE_PORT, 8080].")
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
@click.option("--demo", is_flag=True, help="Create (once) and print a demo app's credentials.")
def serve(host: str | None, port: int | None, data_dir: str | None, demo: bool) -> None:
    """Run the server (migrates the database first)."""
    import uvicorn

    from livetape.api.factory import create_app

    settings = _settings(data_dir, host=host, port=port)
    logging.getLogger("livetape").setLevel(logging.INFO)
    url = settings.public_url or f"http://{settings.host}:{settings.port}"
    if demo:
        async def demo_app(apps: Any) -> Any:
            return await apps.first_named("demo") or await apps.create("demo")

        app = _with_apps(settings, demo_app)
        click.echo(f"livetape {url}  (API docs: {url}/docs)")
        click.echo(f"demo app: app_id={app.app_id} secret_key={app.secret_key}")
    # X-Forwarded-* are believed only from LIVETAPE_TRUSTED_PROXIES, by the app itself:
    # uvicorn's own proxy_headers would believe them from 127.0.0.1 (or FORWARDED_ALLOW_IPS)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level="info", lifespan="on", loop="uvloop", proxy_headers=False)


@main.command()
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Exit when this process (the server that started us) is gone.")
def worker(data_dir: str | None, parent_pid: int | None) -> None:
    """Run a processing worker (transcode, snapshots, watermark) until SIGTERM.

    Point it at the server's database (LIVETAPE_DATABASE_URL) and storage; any number may run.
    """
    from livetape.jobs.worker import run_worker

    logging.getLogger("livetape").setLevel(logging.INFO)
    asyncio.run(run_worker(_settings(data_dir), parent_pid=parent_pid))


@main.group()
def app() -> None:
    """Manage apps."""


@app.command("create")
@click.argument("name")
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
@click.option("--vod/--no-vod", default=True, show_default=True,
              help="Activate VOD (recording needs it).")
def app_create(name: str, data_dir: str | None, vod: bool) -> None:
    """Create an app; prints {"app_id", "secret_key"}."""
    created = _with_apps(_settings(data_dir), lambda apps: apps.create(name, vod=vod))
    _print_json({"app_id": created.app_id, "secret_key": created.secret_key,
                 "vod_activated": created.vod_activated})


@app.group("vod")
def app_vod() -> None:
    """VOD activation (recording is refused with code 1 without it)."""


@app_vod.command("activate")
@click.argument("app_id")
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
def app_vod_activate(app_id: str, data_dir: str | None) -> None:
    """Activate VOD for APP_ID."""
    _set_vod(app_id, data_dir, True)


@app_vod.command("deactivate")
@click.argument("app_id")
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
def app_vod_deactivate(app_id: str, data_dir: str | None) -> None:
    """Deactivate VOD for APP_ID: new recordings are refused (code 1); files stay."""
    _set_vod(app_id, data_dir, False)


@app.group("keys")
def app_keys() -> None:
    """An app's secret keys: list (masked), rotate (old key in grace), revoke."""


@app_keys.command("list")
@click.argument("app_id")
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
def app_keys_list(app_id: str, data_dir: str | None) -> None:
    """The keys of APP_ID, masked, with their state."""
    keys = _with_apps(_settings(data_dir), lambda apps: apps.keys.list(app_id))
    _print_json({"keys": [key.model_dump() for key in keys]})


@app_keys.command("rotate")
@click.argument("app_id")
@click.option("--grace", type=int, default=None, help="Seconds the old key keeps working "
              "[LIVETAPE_KEY_GRACE_SECONDS, 86400].")
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
def app_keys_rotate(app_id: str, grace: int | None, data_dir: str | None) -> None:
    """A new current key for APP_ID; prints it (once)."""
    settings = _settings(data_dir)
    seconds = settings.key_grace_seconds if grace is None else grace

    async def rotate(apps: Any) -> Any:
        key, secret = await apps.keys.rotate(app_id, seconds)
        return {"key_id": key.key_id, "secret_key": secret, "old_key_grace_seconds": seconds}

    _print_json(_with_apps(settings, rotate))


@app_keys.command("revoke")
@click.argument("app_id")
@click.argument("key_id")
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
def app_keys_revoke(app_id: str, key_id: str, data_dir: str | None) -> None:
    """Revoke KEY_ID of APP_ID at once."""
    from livetape.errors import LivetapeError

    try:
        _with_apps(_settings(data_dir), lambda apps: apps.keys.revoke(app_id, key_id))
    except LivetapeError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_json({"key_id": key_id, "revoked": True})


def _set_vod(app_id: str, data_dir: str | None, activated: bool) -> None:
    found = _with_apps(_settings(data_dir), lambda apps: apps.set_vod(app_id, activated))
    if found is None:
        raise click.ClickException(f"no app {app_id!r}")
    _print_json({"app_id": app_id, "vod_activated": activated})


@main.command()
@click.option("--app-id", required=True)
@click.option("--user-id", required=True)
@click.option("--ttl", type=int, default=None, help="Lifetime in seconds [86400].")
@click.option("--privileges", default="record", show_default=True,
              help="Comma-separated; '' for none.")
@click.option("--data-dir", default=None, help="Data folder [LIVETAPE_DATA_DIR, ./data].")
def token(app_id: str, user_id: str, ttl: int | None, privileges: str,
          data_dir: str | None) -> None:
    """Mint a user token; prints {"token"}."""
    settings = _settings(data_dir)

    async def mint(apps: Any) -> str:
        found = await apps.get(app_id)
        if found is None:
            raise click.ClickException(f"no app {app_id!r} in {settings.resolved_database_url()}")
        granted = [p for p in privileges.split(",") if p]
        minted: tuple[str, int] = apps.mint_token(found, user_id, ttl, granted)
        return minted[0]

    from livetape.errors import LivetapeError

    try:
        _print_json({"token": _with_apps(settings, mint)})
    except LivetapeError as exc:
        raise click.ClickException(f"{exc} ({exc.hint})") from exc


@main.command()
@_client_options
@click.option("--room", required=True, help="Room id.")
@click.option("--src-type", type=click.Choice(["camera", "screen"]), default="camera")
@click.option("--file", "media_file", type=click.Path(exists=True, dir_okay=False),
              help="Media file to send (H.264/VP8 + audio); default: a synthetic test source.")
@click.option("--seconds", type=float, default=None, help="Stop after N seconds.")
@click.option("--loop", is_flag=True, help="Repeat the media until stopped.")
def publish(url: str, key: str | None, token: str | None, room: str, src_type: str,
            media_file: str | None, seconds: float | None, loop: bool) -> None:
    """Publish a file or a synthetic source into a room over WHIP (needs --token)."""
    from livetape.client.media import EncodedMedia
    from livetape.client.publisher import WhipPublisher

    if not token:
        raise click.UsageError("publishing needs a user token (--token or LIVETAPE_TOKEN)")

    async def run() -> None:
        media = (EncodedMedia.from_file(Path(media_file)) if media_file
                 else EncodedMedia.synthetic(seconds or 10.0))
        whip = f"{url.rstrip('/')}/v1/rooms/{room}/whip?src_type={src_type}"
        publisher = WhipPublisher(whip, token, media, loop=loop)
        await publisher.start()
        click.echo(json.dumps({"location": publisher.location}))
        try:
            if seconds is not None:
                await asyncio.sleep(seconds)
            else:
                await publisher.wait_done()
        finally:
            await publisher.stop()

    asyncio.run(run())


@main.group()
def record() -> None:
    """Start / stop recording (server key + --user, or a user token)."""


def _record_call(url: str, key: str | None, token: str | None,
                 call: Callable[[Any], Awaitable[Any]]) -> None:
    from livetape.client.api import ApiError, LivetapeClient

    async def run() -> Any:
        async with LivetapeClient(url, secret_key=key, token=token) as client:
            return await call(client)

    try:
        _print_json(asyncio.run(run()))
    except ApiError as exc:
        _print_json(exc.body)
        raise SystemExit(1) from exc


@record.command("start")
@_client_options
@click.option("--room", required=True)
@click.option("--user", "user_id", default=None, help="User id (server-side calls).")
@click.option("--file-name", required=True)
@click.option("--src-type", type=click.Choice(["camera", "screen"]), default="camera")
@click.option("--audio-only", is_flag=True)
@click.option("--class-id", type=int, default=0)
@click.option("--tag", "tags", multiple=True)
def record_start(url: str, key: str | None, token: str | None, room: str,
                 user_id: str | None, file_name: str, src_type: str, audio_only: bool,
                 class_id: int, tags: tuple[str, ...]) -> None:
    """Start recording a participant's stream; prints {"recording_id"}."""
    async def call(client: Any) -> Any:
        recording_id = await client.start_recording(
            room, file_name, user_id=user_id, src_type=src_type,
            record_type="audio" if audio_only else "video", class_id=class_id, tags=list(tags),
        )
        return {"recording_id": recording_id}

    _record_call(url, key, token, call)


@record.command("stop")
@_client_options
@click.option("--room", required=True)
@click.option("--user", "user_id", default=None, help="User id (server-side calls).")
@click.option("--src-type", type=click.Choice(["camera", "screen"]), default="camera")
def record_stop(url: str, key: str | None, token: str | None, room: str,
                user_id: str | None, src_type: str) -> None:
    """Stop recording; prints {"file_ids"}."""
    async def call(client: Any) -> Any:
        return {"file_ids": await client.stop_recording(room, user_id=user_id,
                                                        src_type=src_type)}

    _record_call(url, key, token, call)


@main.group()
def vod() -> None:
    """The VOD library."""


@vod.command("play-info")
@_client_options
@click.argument("name")
@click.option("--page-no", type=int, default=1)
@click.option("--page-size", type=int, default=10)
def vod_play_info(url: str, key: str | None, token: str | None, name: str, page_no: int,
                  page_size: int) -> None:
    """DescribeVodPlayInfo: files whose name starts with NAME, with play URLs."""
    _record_call(url, key, token,
                 lambda c: c.play_info(name, page_no=page_no, page_size=page_size))


@vod.command("convert")
@_client_options
@click.argument("file_id")
@click.option("--definition", "definitions", type=int, multiple=True,
              help="10/20/30 (MP4 ladder), 210/220/230 (HLS); repeat. Default: 10, 20, 30.")
@click.option("--watermark", is_flag=True, help="Also make definition 1 (watermarked).")
@click.option("--screenshot", is_flag=True, help="Also take a cover and snapshots.")
@click.option("--wait", is_flag=True, help="Show a progress bar until the jobs end.")
def vod_convert(url: str, key: str | None, token: str | None, file_id: str,
                definitions: tuple[int, ...], watermark: bool, screenshot: bool,
                wait: bool) -> None:
    """ConvertVodFile: transcode FILE_ID to renditions; prints the jobs (or waits for them)."""
    from livetape.client.api import ApiError, LivetapeClient

    async def run() -> Any:
        async with LivetapeClient(url, secret_key=key, token=token) as client:
            queued = await client.convert(file_id, list(definitions) or None,
                                          watermark=watermark, screenshot=screenshot)
            if not wait:
                return queued
            return await _follow(client, [job["job_id"] for job in queued["jobs"]])

    try:
        result = asyncio.run(run())
    except ApiError as exc:
        _print_json(exc.body)
        raise SystemExit(1) from exc
    _print_json(result)
    if wait and any(job["state"] == "failed" for job in result["jobs"]):
        raise SystemExit(1)


@vod.command("jobs")
@_client_options
@click.option("--file-id", default=None)
@click.option("--state", type=click.Choice(["queued", "running", "done", "failed"]))
def vod_jobs(url: str, key: str | None, token: str | None, file_id: str | None,
             state: str | None) -> None:
    """List processing jobs, newest first."""
    _record_call(url, key, token,
                 lambda c: c.list_jobs(file_id=file_id, state=state))


async def _follow(client: Any, job_ids: list[str], poll: float = 0.5) -> dict[str, Any]:
    """Show one progress bar over ``job_ids`` (mean percent) until all have ended."""
    jobs: list[dict[str, Any]] = []
    bar: Any = click.progressbar(length=100, label=f"{len(job_ids)} job(s)", show_percent=True,
                                 file=sys.stderr)
    with bar:
        shown = 0
        while True:
            jobs = [await client.get_job(job_id) for job_id in job_ids]
            done = [j for j in jobs if j["state"] in ("done", "failed")]
            percent = int(sum(100 if j in done else j["progress"] for j in jobs) / len(jobs))
            bar.update(percent - shown)
            shown = percent
            if len(done) == len(jobs):
                break
            await asyncio.sleep(poll)
    return {"jobs": jobs}


main.add_command(billing)
