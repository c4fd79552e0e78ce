"""Which :class:`MediaNode` a control plane talks to, from the settings: the one place that
chooses between the node in this process and a node over NATS."""

from __future__ import annotations

from nats.aio.client import Client as Nats

from livetape.config import Settings
from livetape.medianode.in_process import InProcessMediaNode
from livetape.medianode.interface import MediaNode
from livetape.medianode.remote import NatsMediaNode
from livetape.medianode.service import NodeService


def media_node(settings: Settings, node_id: str | None = None,
               connection: Nats | None = None) -> MediaNode:
    """Without LIVETAPE_NATS_URL, the node in this process; with it, node ``node_id``
    (default: this process's, LIVETAPE_NODE_ID) over NATS."""
    if not settings.nats_url:
        return InProcessMediaNode(settings)
    target = node_id or settings.node_id
    if not target:
        raise ValueError("LIVETAPE_NATS_URL is set but no node id is known: set "
                         "LIVETAPE_NODE_ID")
    return NatsMediaNode(settings, target, connection)


def node_service(settings: Settings, connection: Nats | None = None) -> NodeService | None:
    """In a cluster, this process's own media node, served to every control plane over NATS
    (start it, then reach it with :func:`media_node`); None for a single node."""
    if not settings.nats_url:
        return None
    if not settings.node_id:
        raise ValueError("LIVETAPE_NATS_URL is set but LIVETAPE_NODE_ID is not")
    return NodeService(InProcessMediaNode(settings, node_id=settings.node_id), settings,
                       connection)
