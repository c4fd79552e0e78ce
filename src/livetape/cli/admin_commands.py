"""``livetape app ...`` and ``livetape token``: apps, their keys and user tokens, through the
app service on the configured database (no server needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from livetape.cli.options import DATA_DIR, print_json, settings_from, with_apps
from livetape.errors import LivetapeError

if TYPE_CHECKING:
    from livetape.auth.apps import AppService


@click.group()
def app() -> None:
    """Manage apps."""


@app.command("create")
@click.argument("name")
@DATA_DIR
@click.option("--vod/--no-vod", default=True, show_default=True,
              help="Activate VOD (recording needs it).")
def app_create(name: str, data_dir: str | None, vod: bool) -> None:
    """Create an app; prints {"app_id", "secret_key"}."""
    created = with_apps(settings_from(data_dir), lambda apps: apps.create(name, vod=vod))
    print_json({"app_id": created.app_id, "secret_key": created.secret_key,
                "vod_activated": created.vod_activated})


@app.group("vod")
def app_vod() -> None:
    """VOD activation (recording is refused with code 1 without it)."""


@app_vod.command("activate")
@click.argument("app_id")
@DATA_DIR
def app_vod_activate(app_id: str, data_dir: str | None) -> None:
    """Activate VOD for APP_ID."""
    _set_vod(app_id, data_dir, True)


@app_vod.command("deactivate")
@click.argument("app_id")
@DATA_DIR
def app_vod_deactivate(app_id: str, data_dir: str | None) -> None:
    """Deactivate VOD for APP_ID: new recordings are refused (code 1); files stay."""
    _set_vod(app_id, data_dir, False)


def _set_vod(app_id: str, data_dir: str | None, activated: bool) -> None:
    found = with_apps(settings_from(data_dir), lambda apps: apps.set_vod(app_id, activated))
    if found is None:
        raise click.ClickException(f"no app {app_id!r}")
    print_json({"app_id": app_id, "vod_activated": activated})


@app.group("keys")
def app_keys() -> None:
    """An app's secret keys: list (masked), rotate (old key in grace), revoke."""


@app_keys.command("list")
@click.argument("app_id")
@DATA_DIR
def app_keys_list(app_id: str, data_dir: str | None) -> None:
    """The keys of APP_ID, masked, with their state."""
    keys = with_apps(settings_from(data_dir), lambda apps: apps.keys.list(app_id))
    print_json({"keys": [key.model_dump() for key in keys]})


@app_keys.command("rotate")
@click.argument("app_id")
@click.option("--grace", type=int, default=None, help="Seconds the old key keeps working "
              "[LIVETAPE_KEY_GRACE_SECONDS, 86400].")
@DATA_DIR
def app_keys_rotate(app_id: str, grace: int | None, data_dir: str | None) -> None:
    """A new current key for APP_ID; prints it (once)."""
    settings = settings_from(data_dir)
    seconds = settings.key_grace_seconds if grace is None else grace

    async def rotate(apps: AppService) -> dict[str, Any]:
        key, secret = await apps.keys.rotate(app_id, seconds)
        return {"key_id": key.key_id, "secret_key": secret, "old_key_grace_seconds": seconds}

    print_json(with_apps(settings, rotate))


@app_keys.command("revoke")
@click.argument("app_id")
@click.argument("key_id")
@DATA_DIR
def app_keys_revoke(app_id: str, key_id: str, data_dir: str | None) -> None:
    """Revoke KEY_ID of APP_ID at once."""
    try:
        with_apps(settings_from(data_dir), lambda apps: apps.keys.revoke(app_id, key_id))
    except LivetapeError as exc:
        raise click.ClickException(str(exc)) from exc
    print_json({"key_id": key_id, "revoked": True})


@click.command()
@click.option("--app-id", required=True)
@click.option("--user-id", required=True)
@click.option("--ttl", type=int, default=None, help="Lifetime in seconds [86400].")
@click.option("--privileges", default="record", show_default=True,
              help="Comma-separated; '' for none.")
@DATA_DIR
def token(app_id: str, user_id: str, ttl: int | None, privileges: str,
          data_dir: str | None) -> None:
    """Mint a user token; prints {"token"}."""
    settings = settings_from(data_dir)

    async def mint(apps: AppService) -> str:
        found = await apps.get(app_id)
        if found is None:
            raise click.ClickException(f"no app {app_id!r} in {settings.resolved_database_url()}")
        granted = [p for p in privileges.split(",") if p]
        return apps.mint_token(found, user_id, ttl, granted)[0]

    try:
        print_json({"token": with_apps(settings, mint)})
    except LivetapeError as exc:
        raise click.ClickException(f"{exc} ({exc.hint})") from exc
