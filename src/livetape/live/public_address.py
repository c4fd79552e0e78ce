"""Learn this host's public IPv4 address once, from a STUN server (RFC 8489 Binding).

For ``LIVETAPE_ICE_DISCOVER_PUBLIC_IP``: a server behind 1:1 NAT (a cloud VM's elastic or
floating address) asks a STUN server what address its packets come from, and announces it
as if it were listed in ``LIVETAPE_ICE_PUBLIC_IPS``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

from aioice import stun
from aiortc.rtcicetransport import parse_stun_turn_uri


class DiscoveryError(RuntimeError):
    """The STUN server could not be asked, or did not answer."""


class _Answer(asyncio.DatagramProtocol):
    def __init__(self, transaction_id: bytes, answered: asyncio.Future[stun.Message]) -> None:
        self._transaction_id, self._answered = transaction_id, answered

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            message = stun.parse_message(data)
        except ValueError:
            return
        if message.transaction_id == self._transaction_id and not self._answered.done():
            self._answered.set_result(message)


async def discover_public_ip(stun_url: str, *, wait_seconds: float = 3.0, tries: int = 3) -> str:
    """The IPv4 address ``stun_url``'s server sees this host's packets come from."""
    try:
        server = parse_stun_turn_uri(stun_url)
    except ValueError as exc:
        raise DiscoveryError(f"{stun_url!r} is not a STUN URL: {exc}") from exc
    if server["scheme"] != "stun":
        raise DiscoveryError(f"{stun_url!r}: only a stun: URL (UDP) can tell the public address")
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(server["host"], server["port"], family=socket.AF_INET,
                                       type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise DiscoveryError(f"{stun_url}: cannot resolve {server['host']!r}: {exc}") from exc
    request = stun.Message(message_method=stun.Method.BINDING,
                           message_class=stun.Class.REQUEST)
    answered: asyncio.Future[stun.Message] = loop.create_future()
    host, port = found[0][4][:2]
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Answer(request.transaction_id, answered), remote_addr=(str(host), int(port)))
    try:
        for _ in range(tries):
            transport.sendto(bytes(request))
            try:
                answer = await asyncio.wait_for(asyncio.shield(answered), wait_seconds / tries)
                break
            except TimeoutError:
                continue
        else:
            raise DiscoveryError(f"{stun_url}: no answer in {wait_seconds:g} s")
    finally:
        transport.close()
    mapped = answer.attributes.get("XOR-MAPPED-ADDRESS") or answer.attributes.get(
        "MAPPED-ADDRESS")
    if answer.message_class != stun.Class.RESPONSE or not mapped:
        raise DiscoveryError(f"{stun_url}: the answer names no address")
    return str(ipaddress.ip_address(mapped[0]))
