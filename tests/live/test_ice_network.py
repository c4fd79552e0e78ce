"""livetape.live.ice_network and udp_mux: the patch's guard, the shared socket's routing with
real aioice peers, the port range, and a relay-only publisher through coturn.

(Publishers behind NAT reaching the announced address are in test_behind_nat.py.)
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
from aioice.ice import Connection

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape.live import ice_network
from livetape.live.ice_network import IceNetwork, IcePlan
from livetape_harness.coturn import SECRET, start_coturn
from livetape_harness.flow import download, files_of
from livetape_harness.media_checks import probe
from livetape_harness.server import ServerFactory, free_udp_port


def test_wrapped_source_unchanged() -> None:
    assert ice_network.source_digest() == ice_network.PATCHED_SOURCE_SHA256, (
        f"{ice_network.PATCHED_SOURCE} is not the code livetape.live.ice_network wraps: check "
        "the wrapper still fits the new aioice, then update PATCHED_SOURCE_SHA256")


def test_install_is_idempotent() -> None:
    ice_network.install()
    ice_network.install()
    assert ice_network.installed()
    assert Connection.get_component_candidates.__wrapped__ is (  # type: ignore[attr-defined]
        ice_network.original_get_component_candidates)


async def _pair(network: IceNetwork) -> tuple[Connection, Connection]:
    """A server-side connection gathered through ``network`` and a plain aioice client,
    connected to each other."""
    server = Connection(ice_controlling=False)
    with network.gathering():
        await server.gather_candidates()
    client = Connection(ice_controlling=True)
    await client.gather_candidates()
    for mine, theirs in ((server, client), (client, server)):
        mine.remote_username, mine.remote_password = theirs.local_username, theirs.local_password
        for candidate in theirs.local_candidates:
            await mine.add_remote_candidate(candidate)
        await mine.add_remote_candidate(None)
    await asyncio.wait_for(asyncio.gather(server.connect(), client.connect()), 10)
    return server, client


async def test_sessions_share_one_port_and_each_gets_its_own_datagrams() -> None:
    port = free_udp_port()
    network = IceNetwork(IcePlan(udp_port=port))
    await network.start()
    try:
        pairs = [await _pair(network) for _ in range(3)]
        for server, _ in pairs:
            assert {c.port for c in server.local_candidates} == {port}
        for n, (_, client) in enumerate(pairs):
            await client.send(f"to server {n}".encode())
        for n, (server, _) in enumerate(pairs):
            assert await asyncio.wait_for(server.recv(), 5) == f"to server {n}".encode()
        for n, (server, client) in enumerate(pairs):
            await server.send(f"to client {n}".encode())
            assert await asyncio.wait_for(client.recv(), 5) == f"to client {n}".encode()

        shared = network.shared_port
        assert shared is not None
        # a stranger's datagrams (DTLS-looking, then garbage STUN) reach no session
        dropped = shared.dropped
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        target = next(s for s in shared.sockets if "." in s.address)
        for data in (b"\x16\xfe\xfd" + b"\x00" * 40, b"\x00\x01\x00\x00" + b"\x21" * 16):
            stranger.sendto(data, (target.address, port))
        stranger.close()
        for _ in range(50):
            if shared.dropped >= dropped + 2:
                break
            await asyncio.sleep(0.05)
        assert shared.dropped == dropped + 2

        # a closed session leaves the port to the others
        first_server, first_client = pairs[0]
        await first_server.close()
        await first_client.close()
        assert all(s.sessions == 2 for s in shared.sockets)
        server, client = pairs[1]
        await client.send(b"still here")
        assert await asyncio.wait_for(server.recv(), 5) == b"still here"
        for server, client in pairs[1:]:
            await server.close()
            await client.close()
        assert all(s.sessions == 0 for s in shared.sockets)
    finally:
        await network.stop()


async def test_announced_addresses_replace_the_hosts_own() -> None:
    port = free_udp_port()
    for keep in (False, True):
        network = IceNetwork(IcePlan(udp_port=port, public_ips=("203.0.113.7", "2001:db8::7"),
                                     keep_host_addresses=keep))
        await network.start()
        try:
            server = Connection(ice_controlling=False)
            with network.gathering():
                await server.gather_candidates()
            offered = [(c.host, c.port) for c in server.local_candidates]
            hosts = [(s.address, port) for s in network.shared_port.sockets]  # type: ignore[union-attr]
            has_v6 = any(":" in host for host, _ in hosts)
            announced = [("203.0.113.7", port)] + ([("2001:db8::7", port)] if has_v6 else [])
            assert offered == announced + (hosts if keep else []), offered
            await server.close()
        finally:
            await network.stop()


async def test_a_port_range_gives_each_publication_its_own_port(
    start_server: ServerFactory
) -> None:
    port = free_udp_port()  # a range of one port: one publication at a time
    server = start_server(ice_udp_ports=f"{port}-{port}")
    media = EncodedMedia.synthetic(2.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("range")
        first = WhipPublisher(api.whip_url("range"), await api.mint_token("a"), media, loop=True)
        await first.start()
        try:
            ports = {int(line.split()[5]) for line in (first.answer_sdp or "").splitlines()
                     if line.startswith("a=candidate:")}
            assert ports == {port}
            second = await httpx.AsyncClient().post(
                api.whip_url("range"), content=first.offer_sdp,
                headers={"Authorization": f"Bearer {await api.mint_token('b')}",
                         "Content-Type": "application/sdp"})
            assert second.status_code == 503, second.text
            assert second.json()["code"] == 1003
            assert f"no free UDP port in {port}-{port}" in second.json()["message"]
        finally:
            await first.stop()
        third = WhipPublisher(api.whip_url("range"), await api.mint_token("c"), media)
        await third.start()  # the port is free again
        await third.stop()


async def test_a_relay_only_publisher_is_recorded_through_coturn(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """A client whose network lets nothing out but TURN: its offer has relay candidates only
    (credentials minted by livetape for its user), and the server's one port answers them."""
    with start_coturn(tmp_path / "coturn") as turn_port:
        server = start_server(ice_udp_port=free_udp_port(), idle_timeout_seconds=30,
                              turn_urls=f"turn:127.0.0.1:{turn_port}?transport=udp",
                              turn_secret=SECRET)
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            await api.create_room("firewalled")
            token = await api.mint_token("carol")
            async with LivetapeClient(server.url, token=token) as as_carol:
                ice_servers = await as_carol.ice_servers()
            publisher = WhipPublisher(api.whip_url("firewalled"), token,
                                      EncodedMedia.synthetic(3.0), loop=True,
                                      ice_servers=ice_servers, ice_transport_policy="relay")
            await publisher.start()
            try:
                offered = [line for line in (publisher.offer_sdp or "").splitlines()
                           if line.startswith("a=candidate:")]
                assert offered and all(" typ relay" in line for line in offered), offered
                await api.start_recording("firewalled", "relayed", user_id="carol")
                await asyncio.sleep(5.0)
                assert len(await api.stop_recording("firewalled", user_id="carol")) == 1
            finally:
                await publisher.stop()
            files = await files_of(api, "relayed")
            info = probe(await download(files[0]["play_set"][0]["url"], tmp_path / "r.mp4"))
            assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "opus"
            assert info["duration"] >= 3.0, info
            # the CLI's publisher, the same way
            done = server.cli_raw("publish", "--url", server.url, "--token", token,
                                  "--room", "firewalled", "--relay", "--seconds", "1")
            assert done.returncode == 0 and b"location" in done.stdout, done.stderr[-2000:]
