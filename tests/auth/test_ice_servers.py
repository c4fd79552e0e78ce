"""GET /v1/ice-servers: STUN and TURN servers for a publisher, with TURN credentials that a
real coturn (Debian's, ``use-auth-secret``) accepts: a relay is allocated with them and
carries a datagram to a peer and back; a forged or expired credential is refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint

from livetape.auth.ice_credentials import IceCredentials
from livetape_harness.coturn import SECRET, start_coturn
from livetape_harness.server import ServerFactory


def test_credentials_follow_the_turn_rest_convention() -> None:
    ice = IceCredentials(stun_urls=["stun:stun.example.org:3478"],
                         turn_urls=["turn:turn.example.org:3478?transport=udp"],
                         turn_secret=SECRET, ttl_seconds=600)
    stun, turn = ice.for_user("alice", now=1_800_000_000)
    assert stun.urls == ["stun:stun.example.org:3478"] and stun.username is None
    assert turn.username == "1800000600:alice"
    expected = base64.b64encode(hmac.new(SECRET.encode(), b"1800000600:alice",
                                         hashlib.sha1).digest()).decode()
    assert turn.credential == expected
    assert IceCredentials(stun_urls=[], turn_urls=[], turn_secret=None,
                          ttl_seconds=600).for_user("alice") == []


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[int]:
    """Debian's coturn on 127.0.0.1 checking TURN REST credentials; yields its port."""
    with start_coturn(tmp_path / "coturn") as port:
        yield port


class _Echo(asyncio.DatagramProtocol):
    """The peer on the far side of the relay: answers each datagram."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"echo:" + data, addr)


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)


async def _relay_round_trip(port: int, username: str, credential: str) -> bytes:
    loop = asyncio.get_running_loop()
    echo, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
    relay, inbox = await create_turn_endpoint(_Inbox, ("127.0.0.1", port), username,
                                              credential)
    try:
        relay.sendto(b"hello", echo.get_extra_info("sockname"))
        return await asyncio.wait_for(inbox.got.get(), 10)
    finally:
        relay.close()
        echo.close()


async def test_coturn_relays_with_minted_credentials(
    start_server: ServerFactory, coturn: int
) -> None:
    server = start_server(turn_urls=f"turn:127.0.0.1:{coturn}?transport=udp",
                          turn_secret=SECRET, stun_urls=f"stun:127.0.0.1:{coturn}")
    token = server.cli("token", "--app-id", server.app_id, "--user-id", "alice")["token"]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        answer = await http.get("/v1/ice-servers", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["code"] == 0 and body["ttl_seconds"] == 3600
        stun, turn = body["ice_servers"]
        assert stun == {"urls": [f"stun:127.0.0.1:{coturn}"], "username": None,
                        "credential": None}
        assert turn["username"].endswith(":alice")
        # the app's server names the user; a user token acts only as its own user
        key = {"Authorization": f"Bearer {server.secret_key}"}
        named = await http.get("/v1/ice-servers", params={"user_id": "bob"}, headers=key)
        assert named.json()["ice_servers"][1]["username"].endswith(":bob")
        assert (await http.get("/v1/ice-servers", headers=key)).json()["code"] == 1000
        other = await http.get("/v1/ice-servers", params={"user_id": "bob"},
                               headers={"Authorization": f"Bearer {token}"})
        assert other.status_code == 401
        assert (await http.get("/v1/ice-servers")).status_code == 401

    assert await _relay_round_trip(coturn, turn["username"], turn["credential"]) == b"echo:hello"
    with pytest.raises(TransactionFailed):  # a credential not signed with the secret
        await _relay_round_trip(coturn, turn["username"], "forged" + turn["credential"][6:])
    expired = f"{int(time.time()) - 60}:alice"
    forged_in_time = base64.b64encode(hmac.new(SECRET.encode(), expired.encode(),
                                               hashlib.sha1).digest()).decode()
    with pytest.raises(TransactionFailed):  # signed, but past its expiry
        await _relay_round_trip(coturn, expired, forged_in_time)
