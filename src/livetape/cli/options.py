"""What the ``livetape`` commands share: the common options, settings from them, JSON output,
and the app service on the configured database (commands that need no server)."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError

from livetape.config import Settings

if TYPE_CHECKING:
    from livetape.auth.apps import AppService

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"

DATA_DIR = click.option("--data-dir", default=None,
                        help="Data folder [LIVETAPE_DATA_DIR, ./data].")


def settings_from(data_dir: str | None, **overrides: Any) -> Settings:
    """The settings (environment, defaults) with the options a command was given."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = Path(data_dir)
    try:
        return Settings(**values)
    except ValidationError as exc:  # a bad setting stops the command, said in one line each
        lines = []
        for error in exc.errors():
            field = "_".join(str(part) for part in error["loc"])
            where = f"LIVETAPE_{field.upper()}: " if field else ""
            lines.append(f"  {where}{error['msg'].removeprefix('Value error, ')}")
        raise click.ClickException("bad settings:\n" + "\n".join(lines)) from None


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def with_apps(settings: Settings, job: Callable[[AppService], Awaitable[T]]) -> T:
    """Run ``job(AppService)`` against the configured database (no server needed)."""
    from livetape.auth.apps import AppService
    from livetape.db.session import run_against

    return run_against(settings.resolved_database_url(), lambda db: job(AppService(
        db.sessions, token_ttl=settings.token_default_ttl_seconds,
        max_token_ttl=settings.max_token_ttl_seconds)))


def client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--url``, ``--key``, ``--token``: how an HTTP client command reaches the server."""
    fn = click.option("--url", default=lambda: os.environ.get("LIVETAPE_URL", DEFAULT_URL),
                      show_default="$LIVETAPE_URL or " + DEFAULT_URL, help="Server URL.")(fn)
    fn = click.option("--key", envvar="LIVETAPE_SECRET_KEY",
                      help="App secret key (server-side calls). Env: LIVETAPE_SECRET_KEY.")(fn)
    return click.option("--token", envvar="LIVETAPE_TOKEN",
                        help="User token (client calls). Env: LIVETAPE_TOKEN.")(fn)
