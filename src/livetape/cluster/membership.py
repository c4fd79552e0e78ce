"""One node's part in a cluster: its NATS connection, its registry entry and the notices,
started and stopped together (built by api/factory.py when ``LIVETAPE_NATS_URL`` is set)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from livetape.cluster.connection import ClusterConnection
from livetape.cluster.notices import Notices
from livetape.cluster.registry import NodeLoad, NodeRegistry
from livetape.config import Settings

log = logging.getLogger(__name__)

FIRST_CONNECTION_SECONDS = 5.0  # start-up waits this long for NATS, then goes on without it


class ClusterMembership:
    def __init__(self, settings: Settings, describe: Callable[[], NodeLoad]) -> None:
        if not settings.nats_url:
            raise ValueError("a cluster needs LIVETAPE_NATS_URL")
        self.node_id = settings.resolved_node_id()
        scheme = "https" if settings.tls_cert else "http"
        public_url = settings.public_url or f"{scheme}://{settings.host}:{settings.port}"
        self.connection = ClusterConnection(settings.nats_url, name=f"livetape {self.node_id}",
                                            timeout=settings.node_timeout_seconds)
        self.registry = NodeRegistry(self.connection, settings, public_url=public_url,
                                     describe=describe)
        self.notices = Notices(self.connection, self.node_id)

    async def start(self) -> None:
        """Connect (in the background), subscribe to notices, join the registry; waits a
        moment for the first connection so the node is listed when it starts answering."""
        await self.notices.start()
        await self.registry.start()
        await self.connection.start()
        if not await self.connection.wait_connected(FIRST_CONNECTION_SECONDS):
            log.warning("NATS at %s not reachable yet: the node runs, and joins the cluster "
                        "once it is", self.connection.url)

    async def stop(self) -> None:
        """Leave the registry, then close the connection (idempotent)."""
        await self.registry.stop()
        await self.notices.stop()
        await self.connection.stop()

    def health(self) -> dict[str, Any]:
        """What the health endpoint shows of the cluster."""
        return {"node_id": self.node_id, "nats": self.connection.state,
                "nats_connected": self.connection.connected}
