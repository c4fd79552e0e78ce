"""Where WebRTC sessions receive (ports, addresses) and which addresses their answers announce.

aioice binds every session to a kernel-chosen port on each host address and puts those
addresses in the answer. :class:`IceNetwork` changes that, per process, with one small
patch: ``aioice.ice.Connection.get_component_candidates`` (the step of gathering that binds
host sockets) is wrapped so that, while a livetape publication gathers (see
:meth:`IceNetwork.gathering`), the candidates come from here:

- **ports**: every session on one shared port (``LIVETAPE_ICE_UDP_PORT``, see
  :mod:`livetape.live.udp_mux`), or each on a port of a range (``LIVETAPE_ICE_UDP_PORTS``),
  or, with neither, aioice's own kernel-chosen ports;
- **announced addresses** (``LIVETAPE_ICE_PUBLIC_IPS``, or one learned from STUN at start):
  the answer offers each public address with the port of each local candidate of its family
  (behind 1:1 NAT the port is kept), and the host's own addresses only with
  ``LIVETAPE_ICE_KEEP_HOST_ADDRESSES``.

Peer connections that are not a publication's (a test's own publishers) are not touched. The
wrapped function's source is guarded like :mod:`livetape.live.interop`'s patches
(``tests/live/test_ice_network.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import ipaddress
import logging
import random
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from aioice.candidate import Candidate, candidate_priority
from aioice.ice import Connection, StunProtocol, get_host_addresses

from livetape.errors import Catalogue, LivetapeError
from livetape.live.public_address import discover_public_ip
from livetape.live.udp_mux import BindError, SharedUdpPort, bind_udp, host_candidate
from livetape.live.udp_stats import ReceiveBuffers, UdpDrops
from livetape.network_settings import NetworkSettings

log = logging.getLogger(__name__)

PATCHED_SOURCE = "aioice.ice.Connection.get_component_candidates"
PATCHED_SOURCE_SHA256 = "118597a9fcb703f9950c2f2964e3e44423724576eda484ba6747b1610ccf4a2f"

original_get_component_candidates = Connection.get_component_candidates
_gathering: ContextVar[IceNetwork | None] = ContextVar("livetape_ice_network", default=None)
_install_lock = threading.Lock()


@dataclass(frozen=True)
class IcePlan:
    """The settings that decide ports and announced addresses (all optional)."""

    udp_port: int | None = None
    udp_ports: tuple[int, int] | None = None
    public_ips: tuple[str, ...] = ()
    keep_host_addresses: bool = False
    discover_from: str | None = None  # a stun: URL to learn one more public address from
    receive_buffer_bytes: int = 0  # asked for every media socket (0: the kernel's default)

    @classmethod
    def from_settings(cls, settings: NetworkSettings) -> IcePlan:
        stun_urls = [url for url in settings.stun_urls if url.startswith("stun:")]
        return cls(
            udp_port=settings.ice_udp_port, udp_ports=settings.ice_udp_ports,
            public_ips=tuple(settings.ice_public_ips),
            keep_host_addresses=settings.ice_keep_host_addresses,
            discover_from=stun_urls[0] if settings.ice_discover_public_ip and stun_urls else None,
            receive_buffer_bytes=settings.udp_receive_buffer_bytes,
        )

    @property
    def changes_anything(self) -> bool:
        return bool(self.udp_port or self.udp_ports or self.public_ips or self.discover_from
                    or self.receive_buffer_bytes)


@functools.wraps(original_get_component_candidates)
async def _get_component_candidates(self: Connection, component: int, addresses: list[str],
                                    timeout: int = 5) -> list[Candidate]:  # noqa: ASYNC109 (aioice's)
    network = _gathering.get()
    if network is None:
        return await original_get_component_candidates(self, component, addresses, timeout)
    return await network.gather(self, component, addresses, stun_wait=timeout)


def source_digest() -> str:
    source = inspect.getsource(original_get_component_candidates)
    return hashlib.sha256(source.encode()).hexdigest()


def install() -> None:
    """Wrap aioice's host-candidate step (idempotent); warn if it is not the pinned code."""
    with _install_lock:
        if installed():
            return
        if source_digest() != PATCHED_SOURCE_SHA256:
            log.warning("%s changed since aioice 0.13.0: LIVETAPE_ICE_* settings may not apply",
                        PATCHED_SOURCE)
        Connection.get_component_candidates = _get_component_candidates  # type: ignore[method-assign]


def installed() -> bool:
    return Connection.get_component_candidates is _get_component_candidates


class IceNetwork:
    """The process's ICE ports and announced addresses; :meth:`start` binds the shared port."""

    def __init__(self, plan: IcePlan) -> None:
        self.plan = plan
        self.public_ips = list(plan.public_ips)
        self._shared: SharedUdpPort | None = None
        self.buffers = ReceiveBuffers(plan.receive_buffer_bytes)
        self.drops = UdpDrops()  # the kernel's drops on this process's UDP sockets

    async def start(self) -> None:
        plan = self.plan
        if plan.discover_from:
            learned = await discover_public_ip(plan.discover_from)
            log.info("public address %s (learned from %s)", learned, plan.discover_from)
            if learned not in self.public_ips:
                self.public_ips.append(learned)
        if plan.udp_port:
            shared = SharedUdpPort(plan.udp_port, host_addresses(), self.buffers)
            await shared.start()
            self._shared = shared
        if plan.changes_anything:
            install()

    async def stop(self) -> None:
        shared, self._shared = self._shared, None
        if shared is not None:
            await shared.stop()

    @property
    def shared_port(self) -> SharedUdpPort | None:
        return self._shared

    @contextlib.contextmanager
    def gathering(self) -> Iterator[None]:
        """Candidates gathered in this block (a publication's answer) come from here."""
        if not self.plan.changes_anything:
            yield
            return
        token = _gathering.set(self)
        try:
            yield
        finally:
            _gathering.reset(token)

    async def gather(self, connection: Connection, component: int, addresses: list[str],
                     *, stun_wait: int = 5) -> list[Candidate]:
        """What ``connection`` offers for ``component`` (``addresses``: aioice's host list,
        empty with the relay-only policy)."""
        if self._shared is not None:
            protocols: list[StunProtocol] = []
            if addresses:
                protocols += self._shared.attach(connection, component)
        elif self.plan.udp_ports:
            protocols = [await self._bind_in_range(connection, address, component)
                         for address in addresses]
        else:  # aioice's own sockets: the receive buffer set on each
            known = len(connection._protocols)
            found = await original_get_component_candidates(
                connection, component, addresses, stun_wait)
            for protocol in connection._protocols[known:]:
                sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
                if sock is not None:
                    self.buffers.apply(sock)
            return self._announce(found, component)
        connection._protocols += protocols
        return self._announce([p.local_candidate for p in protocols], component)

    async def _bind_in_range(self, connection: Connection, address: str,
                             component: int) -> StunProtocol:
        assert self.plan.udp_ports is not None
        low, high = self.plan.udp_ports
        first = random.randint(low, high)
        for port in [*range(first, high + 1), *range(low, first)]:
            try:
                sock = bind_udp(address, port, self.buffers)
            except BindError:
                continue
            loop = asyncio.get_running_loop()
            _, protocol = await loop.create_datagram_endpoint(
                lambda: StunProtocol(connection), sock=sock)
            protocol.local_candidate = host_candidate(address, port, component)
            return protocol
        raise LivetapeError(
            Catalogue.SERVER_FULL, f"no free UDP port in {low}-{high} on {address}",
            hint="end a stream first, or widen LIVETAPE_ICE_UDP_PORTS")

    def _announce(self, local: list[Candidate], component: int) -> list[Candidate]:
        if not self.public_ips:
            return local
        hosts = [c for c in local if c.type == "host"]
        offered: dict[tuple[str, int], Candidate] = {}
        for ip in self.public_ips:
            version = ipaddress.ip_address(ip).version
            for port in dict.fromkeys(c.port for c in hosts
                                      if ipaddress.ip_address(c.host).version == version):
                offered.setdefault((ip, port), host_candidate(ip, port, component))
        if self.plan.keep_host_addresses:
            for rank, candidate in enumerate(hosts, start=1):
                candidate.priority = candidate_priority(component, "host", 65535 - rank)
                offered.setdefault((candidate.host, candidate.port), candidate)
        return [*offered.values(), *(c for c in local if c.type != "host")]


def host_addresses() -> list[str]:
    """The addresses a session may receive on: aioice's list (no loopback, no link-local)."""
    return get_host_addresses(use_ipv4=True, use_ipv6=True)


def check_ports(plan: IcePlan) -> None:
    """Bind and release the shared port on every address: a clear error before start-up."""
    if plan.udp_port:
        for address in host_addresses():
            bind_udp(address, plan.udp_port).close()

