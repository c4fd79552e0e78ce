"""One UDP port for every WebRTC session of a process: the sockets and their demultiplexer.

aioice gives each session its own socket per host address. With ``LIVETAPE_ICE_UDP_PORT``
every session shares one socket per host address instead, all bound to the same port, so a
firewall opens that one port. Each session gets, per socket, a :class:`SharedPortProtocol`:
aioice's own ``StunProtocol`` whose sends go straight to the shared socket and whose
receives come from the socket's demultiplexer:

- a STUN request names the session in its USERNAME (``<our ufrag>:<their ufrag>``); once
  its MESSAGE-INTEGRITY checks with that session's password, its source address belongs to
  the session;
- a STUN response goes to the session that sent the request (by transaction id), and its
  source address then belongs to that session too;
- anything else (DTLS, SRTP, SRTCP: first byte above 3, RFC 7983) goes by source address
  alone: one dictionary lookup, then aioice's queue, without aioice's own attempt to parse
  every datagram as STUN first.

Datagrams from addresses no session claimed are dropped and counted. One socket per host
address (not one wildcard socket) keeps each reply's source address the one the publisher
sent to, on hosts with several addresses.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from aioice import stun
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aioice.ice import Connection, StunProtocol

from livetape.live.udp_stats import ReceiveBuffers

log = logging.getLogger(__name__)

Address = tuple[str, int]


class BindError(OSError):
    """A UDP port cannot be bound on one of the host's addresses (in use, or no such address)."""


def host_candidate(address: str, port: int, component: int) -> Candidate:
    """A UDP host candidate as aioice makes them (its foundation and priority)."""
    return Candidate(
        foundation=candidate_foundation("host", "udp", address), component=component,
        transport="udp", priority=candidate_priority(component, "host"),
        host=address, port=port, type="host",
    )


class SharedPortProtocol(StunProtocol):
    """aioice's per-candidate protocol for one session on one shared socket."""

    def __init__(self, receiver: Connection, socket_: SharedSocket, component: int) -> None:
        super().__init__(receiver)
        self.shared = socket_
        self.transport = socket_.transport  # sends skip every layer in between
        self.peers: set[Address] = set()
        self.local_candidate = host_candidate(socket_.address, socket_.port, component)

    async def close(self) -> None:
        """Leave the shared socket (which stays open for the other sessions)."""
        self.shared.forget(self)
        self.connection_lost(None)


class SharedSocket(asyncio.DatagramProtocol):
    """The socket bound to one host address and the shared port, and its routing tables."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.transport: asyncio.DatagramTransport = None  # type: ignore[assignment]
        self._ipv6 = ":" in address
        self._by_peer: dict[Address, SharedPortProtocol] = {}
        self._by_ufrag: dict[str, SharedPortProtocol] = {}
        self.dropped = 0  # datagrams from addresses no session claimed
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def attach(self, connection: Connection, component: int) -> SharedPortProtocol:
        protocol = SharedPortProtocol(connection, self, component)
        self._by_ufrag[connection.local_username] = protocol
        return protocol

    def forget(self, protocol: SharedPortProtocol) -> None:
        ufrag = protocol.receiver.local_username
        if self._by_ufrag.get(ufrag) is protocol:
            del self._by_ufrag[ufrag]
        for peer in protocol.peers:
            if self._by_peer.get(peer) is protocol:
                del self._by_peer[peer]
        protocol.peers.clear()

    @property
    def sessions(self) -> int:
        return len(self._by_ufrag)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self._ipv6:
            addr = (addr[0], addr[1])
        if data and data[0] > 3:  # DTLS or (S)RTP/RTCP: by source address alone
            protocol = self._by_peer.get(addr)
            if protocol is None:
                self.dropped += 1
            else:
                protocol.receiver.data_received(data, protocol.local_candidate.component)
            return
        self._stun_received(data, addr)

    def _stun_received(self, data: bytes, addr: Address) -> None:
        try:
            message = stun.parse_message(data)
        except ValueError:
            self.dropped += 1
            return
        protocol: SharedPortProtocol | None
        if message.message_class == stun.Class.REQUEST:
            username = str(message.attributes.get("USERNAME", ""))
            protocol = self._by_ufrag.get(username.partition(":")[0])
            if protocol is not None and message.check_message_integrity(
                    protocol.receiver.local_password.encode("utf8")):
                self._claim(addr, protocol)
        else:  # a response or an error: to the session whose transaction it answers
            protocol = self._by_peer.get(addr)
            if protocol is None or message.transaction_id not in protocol.transactions:
                protocol = next((p for p in self._by_ufrag.values()
                                 if message.transaction_id in p.transactions), None)
                if protocol is not None and message.message_class == stun.Class.RESPONSE:
                    self._claim(addr, protocol)
        if protocol is None:
            self.dropped += 1
            return
        protocol.datagram_received(data, addr)

    def _claim(self, addr: Address, protocol: SharedPortProtocol) -> None:
        previous = self._by_peer.get(addr)
        if previous is protocol:
            return
        if previous is not None:
            previous.peers.discard(addr)
        self._by_peer[addr] = protocol
        protocol.peers.add(addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP %s:%d: %s", self.address, self.port, exc)


class SharedUdpPort:
    """The shared port on each of the host's addresses (bound at :meth:`start`)."""

    def __init__(self, port: int, addresses: list[str],
                 buffers: ReceiveBuffers | None = None) -> None:
        self.port = port
        self._addresses = addresses
        self._buffers = buffers
        self._sockets: list[SharedSocket] = []

    @property
    def sockets(self) -> list[SharedSocket]:
        return list(self._sockets)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            for address in self._addresses:
                sock = bind_udp(address, self.port, self._buffers)
                shared = SharedSocket(address, self.port)
                await loop.create_datagram_endpoint(lambda: shared, sock=sock)  # noqa: B023
                self._sockets.append(shared)
        except BaseException:
            await self.stop()
            raise
        log.info("WebRTC media on UDP port %d of %s", self.port, ", ".join(self._addresses))

    async def stop(self) -> None:
        sockets, self._sockets = self._sockets, []
        for shared in sockets:
            shared.transport.close()
        for shared in sockets:
            await shared.closed  # the port is free again when stop() returns

    def attach(self, connection: Connection, component: int) -> list[SharedPortProtocol]:
        """One protocol per shared socket for ``connection``'s ``component``."""
        return [shared.attach(connection, component) for shared in self._sockets]

    @property
    def dropped(self) -> int:
        return sum(shared.dropped for shared in self._sockets)


def bind_udp(address: str, port: int, buffers: ReceiveBuffers | None = None) -> socket.socket:
    """A UDP socket bound to ``address:port`` (with ``buffers``' receive buffer), or a clear
    error."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if buffers is not None:  # every session's bursts land in one socket's buffer
            buffers.apply(sock)
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        raise BindError(exc.errno, f"UDP port {port} on {address}: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock
