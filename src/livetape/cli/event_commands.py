"""``livetape events tail``: the app's event feed (GET /v1/events, long-polled), one JSON
object a line, as the events come."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import click

from livetape.cli.options import client_options

if TYPE_CHECKING:
    from livetape.client.api import LivetapeClient


@click.group()
def events() -> None:
    """The app's events (recordings, files, jobs): the feed of GET /v1/events."""


@events.command("tail")
@client_options
@click.option("--after", type=int, default=0, show_default=True,
              help="Start after this cursor (0: the first event the server keeps).")
@click.option("--wait", "wait_seconds", type=float, default=25.0, show_default=True,
              help="Seconds each long-poll waits for an event.")
@click.option("--count", type=int, default=None,
              help="Exit after printing this many events (default: follow until Ctrl-C).")
def tail(url: str, key: str | None, token: str | None, after: int, wait_seconds: float,
         count: int | None) -> None:
    """Print the app's events as they come, one JSON object a line (with its "cursor": give
    it to --after to go on from there)."""
    from livetape.client.api import ApiError, LivetapeClient

    async def follow(client: LivetapeClient) -> None:
        cursor, printed = after, 0
        while count is None or printed < count:
            page = await client.events(cursor, limit=100 if count is None
                                       else min(100, count - printed),
                                       wait_seconds=wait_seconds)
            for event in page["events"]:
                click.echo(json.dumps(event), nl=True)
                printed += 1
            cursor = page["next"]

    async def run() -> None:
        async with LivetapeClient(url, secret_key=key, token=token) as client:
            await follow(client)

    try:
        asyncio.run(run())
    except ApiError as exc:
        click.echo(json.dumps(exc.body), err=True)
        raise SystemExit(1) from exc
    except KeyboardInterrupt:
        pass
