"""The guards of livetape.live.interop's two patches to aiortc / aioice.

Each patch has two: the source of the function it wraps must be the text it was written for
(a version bump that changes it fails here, loudly, before anyone debugs a client), and a
real exchange shows the unpatched code still fails where the patch is needed and the patched
code succeeds. The end-to-end tests with the real clients are in tests/rooms/test_whip_clients.py.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

import aioice
import aiortc
import pytest
from aioice import stun
from aioice.ice import Connection
from aiortc.rtcdtlstransport import SRTP_AES128_CM_SHA1_80, RTCCertificate
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from livetape.live import interop

# --- the source guards ---------------------------------------------------------------------


def test_pinned_versions() -> None:
    """The patches were written for these versions; pyproject pins both."""
    assert aiortc.__version__ == "1.16.0"
    assert aioice.__version__ == "0.13.0"


@pytest.mark.parametrize("name", sorted(interop.PATCHED_SOURCES))
def test_wrapped_source_unchanged(name: str) -> None:
    assert name not in interop.changed_sources(), (
        f"{name} is not the code livetape.live.interop patches: check the patch still fits "
        "the new version (or is no longer needed), then update PATCHED_SOURCES"
    )


def test_install_is_idempotent_and_wraps_both() -> None:
    interop.install()
    interop.install()
    assert interop.installed()
    assert RTCCertificate._create_ssl_context.__wrapped__ is (  # type: ignore[attr-defined]
        interop.original_create_ssl_context)
    assert Connection.check_incoming.__wrapped__ is (  # type: ignore[attr-defined]
        interop.original_check_incoming)


# --- DTLS: aiortc's context as the DTLS client, a server with an RSA certificate -----------


def rsa_server_context() -> SSL.Context:
    """A DTLS server with an RSA certificate, like GStreamer's dtlsenc/dtlsdec."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gstreamer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.use_certificate(cert)
    ctx.use_privatekey(key)
    ctx.set_verify(SSL.VERIFY_PEER, lambda *args: True)  # WebRTC checks fingerprints instead
    ctx.set_tlsext_use_srtp(b"SRTP_AES128_CM_SHA1_80")
    return ctx


def handshake(client_ctx: SSL.Context, server_ctx: SSL.Context) -> str:
    """A whole DTLS handshake over memory BIOs; returns the cipher agreed."""
    client, server = SSL.Connection(client_ctx), SSL.Connection(server_ctx)
    client.set_connect_state()
    server.set_accept_state()
    for _ in range(20):
        for one, other in ((client, server), (server, client)):
            try:
                one.do_handshake()
            except SSL.WantReadError:
                pass
            while True:
                try:
                    other.bio_write(one.bio_read(65536))
                except SSL.WantReadError:
                    break
        if client.get_cipher_name() and server.get_cipher_name():
            try:
                client.do_handshake()
                server.do_handshake()
            except SSL.WantReadError:
                continue
            name = client.get_cipher_name()
            assert name is not None
            return name
    raise AssertionError("the handshake did not finish")


def aiortc_context(create: Callable[..., SSL.Context]) -> SSL.Context:
    return create(RTCCertificate.generateCertificate(), [SRTP_AES128_CM_SHA1_80])


def test_unpatched_dtls_fails_with_an_rsa_peer() -> None:
    """If aiortc one day offers RSA suites itself, this fails: drop the DTLS patch then."""
    with pytest.raises(SSL.Error, match=r"no shared cipher|handshake failure"):
        handshake(aiortc_context(interop.original_create_ssl_context), rsa_server_context())


def test_patched_dtls_completes_with_an_rsa_peer() -> None:
    interop.install()
    cipher = handshake(aiortc_context(RTCCertificate._create_ssl_context), rsa_server_context())
    assert cipher.startswith("ECDHE-RSA-")


def test_patched_dtls_keeps_aiortc_suites_first() -> None:
    """Browsers and aiortc peers (ECDSA certificates) get exactly what they got before."""
    interop.install()
    before = SSL.Connection(aiortc_context(interop.original_create_ssl_context)).get_cipher_list()
    after = SSL.Connection(aiortc_context(RTCCertificate._create_ssl_context)).get_cipher_list()
    assert after[:len(before)] == before
    assert [c for c in after[len(before):] if not c.startswith("ECDHE-RSA-")] == []
    ecdsa = RTCCertificate.generateCertificate()
    server = ecdsa._create_ssl_context([SRTP_AES128_CM_SHA1_80])
    assert handshake(aiortc_context(RTCCertificate._create_ssl_context), server) == (
        "ECDHE-ECDSA-AES128-GCM-SHA256")


# --- ICE: a STUN Binding request without PRIORITY, to a real aioice connection ---------------


def binding_request(connection: Connection, *, priority: bool) -> stun.Message:
    """A connectivity check as FFmpeg's whip muxer sends it (no PRIORITY), from a controlling
    peer whose ufrag is 'peer'."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    request.attributes["USERNAME"] = f"{connection.local_username}:peer"
    if priority:
        request.attributes["PRIORITY"] = 1862270975
    request.attributes["ICE-CONTROLLING"] = 1234
    request.attributes["USE-CANDIDATE"] = None
    request.add_message_integrity(connection.local_password.encode())
    request.add_fingerprint()
    return request


class Peer(asyncio.DatagramProtocol):
    """The remote end: answers the connection's checks (as a controlling ICE agent would)."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = stun.parse_message(data)
        if message.message_class != stun.Class.REQUEST or self.transport is None:
            return  # the answers to our own checks
        response = stun.Message(message_method=stun.Method.BINDING,
                                message_class=stun.Class.RESPONSE,
                                transaction_id=message.transaction_id)
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        response.add_message_integrity(self.password.encode())
        response.add_fingerprint()
        self.transport.sendto(bytes(response), addr)


async def ice_with_checks_from_peer(*, priority: bool) -> tuple[Connection, tuple[str, int]]:
    """An aioice connection (controlled, as livetape's answer is) with no remote candidates
    (like FFmpeg's offer) that gets checks from a peer; returns it, ICE completed, and the
    peer's address."""
    connection = Connection(ice_controlling=False, components=1)
    await connection.gather_candidates()
    local = next(c for c in connection.local_candidates if c.host != "127.0.0.1")
    connection.remote_username, connection.remote_password = "peer", "peer-password-0123456789"
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Peer(connection.remote_password), local_addr=(local.host, 0))
    connecting = asyncio.ensure_future(connection.connect())
    request = bytes(binding_request(connection, priority=priority))
    try:
        for _ in range(100):  # ICE completes in well under a second here; give it 10 s
            transport.sendto(request, (local.host, local.port))
            await asyncio.wait([connecting], timeout=0.1)
            if connecting.done():
                break
        if not connecting.done():
            raise AssertionError("ICE did not complete")
        await connecting
        return connection, transport.get_extra_info("sockname")
    except BaseException:
        connecting.cancel()
        await connection.close()
        raise
    finally:
        transport.close()


async def test_ice_completes_with_checks_without_priority() -> None:
    interop.install()
    connection, peer = await ice_with_checks_from_peer(priority=False)
    try:
        learned = [c for c in connection.remote_candidates if c.type == "prflx"]
        assert [(c.host, c.port) for c in learned] == [peer]
        assert learned[0].priority == interop.candidate_priority(1, "prflx")
    finally:
        await connection.close()


async def test_ice_with_priority_is_untouched() -> None:
    interop.install()
    connection, _ = await ice_with_checks_from_peer(priority=True)
    try:
        learned = [c for c in connection.remote_candidates if c.type == "prflx"]
        assert [c.priority for c in learned] == [1862270975]
    finally:
        await connection.close()


async def test_unpatched_check_fails_without_priority() -> None:
    """If aioice one day defaults PRIORITY itself, this fails: drop the ICE patch then."""
    connection = Connection(ice_controlling=False, components=1)
    await connection.gather_candidates()
    try:
        protocol: Any = connection._protocols[0]
        request = binding_request(connection, priority=False)
        with pytest.raises(KeyError, match="PRIORITY"):
            interop.original_check_incoming(connection, request, ("192.0.2.1", 9), protocol)
    finally:
        await connection.close()
