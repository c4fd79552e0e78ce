"""The ``livetape`` command: the group and its logging option; the commands live by concern
in serve_commands (serve, worker), admin_commands (app, token), client_commands (publish,
record, vod: HTTP clients of a server) and billing_commands (billing)."""

from __future__ import annotations

import logging

import click

from livetape.cli.admin_commands import app, token
from livetape.cli.billing_commands import billing
from livetape.cli.client_commands import publish, record, vod
from livetape.cli.cluster_commands import cluster
from livetape.cli.event_commands import events
from livetape.cli.serve_commands import media_node, serve, worker


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """livetape: recording for interactive live video."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for command in (serve, worker, media_node, app, token, publish, record, vod, billing, cluster,
                events):
    main.add_command(command)
