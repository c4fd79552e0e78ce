"""Where the media node protocol travels on NATS: the connection and the subjects.

A node serves its calls on ``livetape.node.<node_id>.<operation>`` (request/reply) and sends
its recordings' events as requests to ``livetape.events.<node_id>``, answered by one control
plane of the queue group ``livetape-control``. A node id is one subject token: letters,
digits, ``_`` and ``-``.
"""

from __future__ import annotations

import re

import nats
from nats.aio.client import Client as Nats

from livetape.config import Settings

CONTROL_QUEUE = "livetape-control"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def checked_node_id(node_id: str) -> str:
    """``node_id`` if it can be a subject token, else ValueError naming the rule."""
    if not _TOKEN.match(node_id):
        raise ValueError(f"node id {node_id!r}: use 1-64 letters, digits, '_' or '-' (it is a "
                         f"NATS subject token)")
    return node_id


def request_subject(node_id: str, operation: str) -> str:
    return f"livetape.node.{checked_node_id(node_id)}.{operation}"


def requests_of(node_id: str) -> str:
    """Every operation's subject of one node (what its service subscribes to)."""
    return f"livetape.node.{checked_node_id(node_id)}.*"


def events_subject(node_id: str) -> str:
    return f"livetape.events.{checked_node_id(node_id)}"


async def connect(settings: Settings, name: str) -> Nats:
    """A connection to LIVETAPE_NATS_URL that reconnects for ever once made."""
    if not settings.nats_url:
        raise ValueError("LIVETAPE_NATS_URL is not set: there is no NATS to connect to")
    servers = [url.strip() for url in settings.nats_url.split(",") if url.strip()]
    try:
        return await nats.connect(
            servers, name=name, connect_timeout=max(1, int(settings.node_timeout_seconds)),
            allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
    except Exception as exc:
        raise RuntimeError(f"NATS at {settings.nats_url} is unreachable: {exc}") from exc
