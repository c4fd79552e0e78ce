"""One machine, all cores: the media-only processes ``livetape serve`` starts beside itself
(``LIVETAPE_MEDIA_PROCESSES``).

The server is media process 0 (its own :class:`InProcessMediaNode`, served over NATS as in a
cluster); media process ``i`` (1..N-1) is ``livetape media-node --index i``: an
:class:`InProcessMediaNode` served by a :class:`NodeService` and listed in the node registry
under ``<server's node id>-m<i>``, so placement spreads publishers over all of them. It has
no HTTP listener and no database: publishers reach it only through the server's WHIP
endpoint (the offer travels over NATS), on its own ICE UDP port(s); its recordings' events go
to the server's control plane, which finalizes the files from the shared ``recordings_dir``.

A media process dies with the server: the kernel sends it SIGTERM when the server does
(``PR_SET_PDEATHSIG``, even after kill -9), and it also watches that its parent is still
its parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal

from livetape.cluster.membership import ClusterMembership
from livetape.cluster.registry import NodeLoad
from livetape.cluster.slots import PublicationSlots
from livetape.config import Settings
from livetape.medianode.in_process import InProcessMediaNode
from livetape.medianode.media_layout import PR_SET_PDEATHSIG
from livetape.medianode.service import NodeService

log = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 1.0
EXIT_GRACE_SECONDS = 2.0  # on top of LIVETAPE_NODE_TIMEOUT_SECONDS for a clean stop


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent dies (Linux; elsewhere the watch alone)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


async def run_media_process(settings: Settings, parent_pid: int) -> None:
    """The ``livetape media-node`` process: serve a media node until SIGTERM or the parent
    (the server) is gone; then end its publications (``shutdown``) and leave the registry."""
    die_with_parent()
    if os.getppid() != parent_pid:
        log.warning("media node: the server (pid %d) is already gone", parent_pid)
        return
    node = InProcessMediaNode(settings, node_id=settings.resolved_node_id())

    def load() -> NodeLoad:
        rooms = node.live_rooms()
        return NodeLoad(publications=sum(rooms.values()), rooms=list(rooms),
                        udp_drops=node.udp_drops())

    cluster = ClusterMembership(settings, load)
    cluster.notices.on("room_closed", lambda f: node.close_room(f["app_id"], f["room_id"]))
    slots = PublicationSlots(cluster.connection, settings, cluster.node_id)
    node.share_limits(slots)  # the app's and user's limits count over every process
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C: the server stops us in order
    await cluster.start()
    await slots.start()
    service = NodeService(node, settings, cluster.connection.client()
                          if cluster.connection.connected else None)
    await service.start()
    log.info("media node %s runs (pid %d, server pid %d)", node.node_id, os.getpid(),
             parent_pid)
    try:
        while not stop.is_set() and os.getppid() == parent_pid:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PARENT_CHECK_SECONDS)
    finally:
        orphan = os.getppid() != parent_pid
        if orphan:
            log.warning("media node %s: the server is gone; stopping", node.node_id)
        try:
            async with asyncio.timeout(settings.node_timeout_seconds + EXIT_GRACE_SECONDS):
                await service.stop()  # ends the publications: recordings end "shutdown"
                await slots.stop()
                await cluster.stop()
        except TimeoutError:
            log.warning("media node %s: not stopped cleanly in time", node.node_id)
