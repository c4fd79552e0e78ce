"""Which media process of a server (``LIVETAPE_MEDIA_PROCESSES``) is which: its node id in
the registry and its ICE UDP port(s). The server is media process 0; process ``i`` is
``<server's node id>-m<i>`` on ``LIVETAPE_ICE_UDP_PORT + i`` or on slice ``i`` of
``LIVETAPE_ICE_UDP_PORTS`` (see :mod:`livetape.medianode.media_process`)."""

from __future__ import annotations

from livetape.config import Settings

PR_SET_PDEATHSIG = 1  # prctl(2): a signal for this process when its parent dies


def media_node_id(server_node_id: str, index: int) -> str:
    """The registry name of media process ``index`` of a server (0: the server itself)."""
    return server_node_id if index == 0 else f"{server_node_id[:58]}-m{index}"


def media_node_ids(settings: Settings) -> list[str]:
    """The node ids of the server's media-only processes (none with one media process)."""
    server = settings.resolved_node_id()
    return [media_node_id(server, i) for i in range(1, settings.media_processes)]


def media_settings(settings: Settings, index: int) -> Settings:
    """The settings of media process ``index``: the server's, with its own ICE UDP port
    (``LIVETAPE_ICE_UDP_PORT + index``) or its own slice of ``LIVETAPE_ICE_UDP_PORTS``."""
    update: dict[str, object] = {}
    if settings.ice_udp_port:
        update["ice_udp_port"] = settings.ice_udp_port + index
    if settings.ice_udp_ports:
        update["ice_udp_ports"] = port_slice(settings.ice_udp_ports, settings.media_processes,
                                             index)
    if index:
        update["node_id"] = media_node_id(settings.resolved_node_id(), index)
    return settings.model_copy(update=update)


def port_slice(ports: tuple[int, int], count: int, index: int) -> tuple[int, int]:
    """Slice ``index`` of ``count`` contiguous slices of the range (the last takes the rest);
    ValueError when the range has fewer ports than slices."""
    low, high = ports
    size = (high - low + 1) // count
    if size < 1:
        raise ValueError(f"LIVETAPE_ICE_UDP_PORTS {low}-{high} has fewer ports than "
                         f"LIVETAPE_MEDIA_PROCESSES ({count})")
    first = low + index * size
    return first, high if index == count - 1 else first + size - 1
