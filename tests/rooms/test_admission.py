"""Who may publish, and for how long: sessions that never connect or fall silent free their
slot, per-user and per-app limits, a server limit that holds under concurrency, and user
tokens that act only as their own user."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
import pytest

from livetape.client.api import ApiError, LivetapeClient
from livetape_harness.flow import offer_without_candidates, publisher_process, wait_for
from livetape_harness.server import LiveServer, ServerFactory

SDP = {"Content-Type": "application/sdp"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def streams_of(api: LivetapeClient, room: str) -> list[dict[str, Any]]:
    members = (await api.get_room(room))["members"]
    return [{"user_id": m["user_id"], **s} for m in members for s in m["streams"]]


async def test_a_session_that_never_connects_is_closed_and_frees_its_slot(
    start_server: ServerFactory,
) -> None:
    server = start_server(connect_timeout_seconds=2, max_publications=2)
    offer = await offer_without_candidates()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api, \
            httpx.AsyncClient() as http:
        await api.create_room("r1")
        token = await api.mint_token("mallory")
        url = api.whip_url("r1")
        locations = []
        for src_type in ("camera", "screen"):
            reply = await http.post(url.replace("camera", src_type), content=offer,
                                    headers={**SDP, **bearer(token)})
            assert reply.status_code == 201, reply.text
            locations.append(reply.headers["location"])
        assert [s["state"] for s in await streams_of(api, "r1")] == ["connecting"] * 2
        # the server is full while they wait ...
        full = await http.post(url, content=offer,
                               headers={**SDP, **bearer(await api.mint_token("bob"))})
        assert (full.status_code, full.json()["code"]) == (503, 1003)

        async def gone() -> bool:
            return not await streams_of(api, "r1")

        await wait_for(gone, timeout=15)  # ... and not once their connect timeout passed
        for location in locations:
            left = await http.delete(f"{server.url}{location}", headers=bearer(token))
            assert (left.status_code, left.json()["code"]) == (404, 10008)
        again = await http.post(url, content=offer,
                                headers={**SDP, **bearer(await api.mint_token("bob"))})
        assert again.status_code == 201, again.text


async def test_per_user_and_per_app_limits(start_server: ServerFactory) -> None:
    server = start_server(max_publications_per_app=3, connect_timeout_seconds=30)
    offer = await offer_without_candidates()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api, \
            httpx.AsyncClient() as http:
        for room in ("r1", "r2"):
            await api.create_room(room)
        token = await api.mint_token("mallory")

        async def publish(room: str, src_type: str, key: str) -> httpx.Response:
            url = api.whip_url(room).replace("camera", src_type)
            return await http.post(url, content=offer, headers={**SDP, **bearer(key)})

        assert (await publish("r1", "camera", token)).status_code == 201
        assert (await publish("r1", "screen", token)).status_code == 201
        third = await publish("r2", "camera", token)  # one token cannot hold every room
        assert (third.status_code, third.json()["code"]) == (503, 1003)
        assert "LIVETAPE_MAX_PUBLICATIONS_PER_USER" in third.json()["hint"]
        assert (await publish("r2", "camera", await api.mint_token("bob"))).status_code == 201
        fourth = await publish("r2", "screen", await api.mint_token("carol"))
        assert (fourth.status_code, fourth.json()["code"]) == (503, 1003)
        assert "LIVETAPE_MAX_PUBLICATIONS_PER_APP" in fourth.json()["hint"]
        # another app on the same server is not held back by this one's limit
        _, other_key = server.create_app("other")
        async with LivetapeClient(server.url, secret_key=other_key) as other:
            await other.create_room("r1")
            reply = await http.post(other.whip_url("r1") + "&user_id=dave", content=offer,
                                    headers={**SDP, **bearer(other_key)})
            assert reply.status_code == 201, reply.text


async def test_the_server_limit_holds_under_concurrent_offers(
    start_server: ServerFactory,
) -> None:
    server = start_server(max_publications=16, multi_room_max_members=1000,
                          connect_timeout_seconds=60)
    offer = await offer_without_candidates()
    limits = httpx.Limits(max_connections=200)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api, \
            httpx.AsyncClient(limits=limits, timeout=120) as http:
        await api.create_room("r1")
        url = api.whip_url("r1")
        replies = await asyncio.gather(*(
            http.post(f"{url}&user_id=user-{i}", content=offer,
                      headers={**SDP, **bearer(server.secret_key)})
            for i in range(200)
        ))
        statuses = sorted(r.status_code for r in replies)
        assert statuses.count(201) == 16, statuses
        assert statuses.count(503) == 184, statuses
        assert len(await streams_of(api, "r1")) == 16


async def test_a_publisher_that_vanishes_is_closed_after_the_grace(
    start_server: ServerFactory,
) -> None:
    server = start_server(disconnect_grace_seconds=2, idle_timeout_seconds=120)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("room-1")
        token = await api.mint_token("bob")
        async with publisher_process(server, token):  # killed -9: no DELETE, no BYE

            async def connected() -> bool:
                return [s["state"] for s in await streams_of(api, "room-1")] == ["connected"]

            await wait_for(connected, timeout=10)
            recording_id = await api.start_recording("room-1", "vanish", user_id="bob")
            await asyncio.sleep(2)
        killed = time.monotonic()

        async def ended() -> dict[str, Any] | None:
            state = await api.get_recording(recording_id)
            return state if state["state"] == "ended" else None

        state = await wait_for(ended, timeout=20)
        assert state["end_reason"] == "publisher_left"  # not the 120 s idle timeout
        assert time.monotonic() - killed < 60
        assert await streams_of(api, "room-1") == []


# identities -----------------------------------------------------------------------------

def _token(server: LiveServer, **claims: Any) -> str:
    now = int(time.time())
    base = {"app_id": server.app_id, "sub": "u", "iat": now, "exp": now + 60,
            "privileges": ["record"]}
    payload = {k: v for k, v in {**base, **claims}.items() if v is not ...}
    return jwt.encode(payload, server.secret_key, algorithm="HS256")


BAD_CLAIMS: list[tuple[dict[str, Any], str]] = [
    ({"sub": ""}, "'sub'"),
    ({"sub": "  "}, "'sub'"),
    ({"sub": 7}, "must be a string"),
    ({"privileges": None}, "'privileges'"),
    ({"privileges": 5}, "'privileges'"),
    ({"privileges": "record"}, "'privileges'"),
    ({"privileges": ["record", "admin"]}, "'privileges'"),
    ({"exp": int(time.time()) + 30 * 86400}, "lives longer"),
    ({"iat": ..., "exp": int(time.time()) + 30 * 86400}, "lives longer"),
]


def test_tokens_that_name_nobody_or_claim_too_much_are_refused(server: LiveServer) -> None:
    httpx.post(f"{server.url}/v1/rooms", json={"room_id": "r"},
               headers=bearer(server.secret_key)).raise_for_status()
    for claims, needle in BAD_CLAIMS:
        reply = httpx.get(f"{server.url}/v1/rooms/r", headers=bearer(_token(server, **claims)))
        assert reply.status_code == 401, (claims, reply.text)
        body = reply.json()
        assert body["code"] == 1001 and needle in body["message"] and body["hint"], claims


async def test_a_user_token_acts_only_as_its_own_user(server: LiveServer) -> None:
    offer = await offer_without_candidates()
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api, \
            httpx.AsyncClient() as http:
        await api.create_room("r1")
        token = await api.mint_token("mallory")
        spoof = await http.post(api.whip_url("r1") + "&user_id=victim", content=offer,
                                headers={**SDP, **bearer(token)})
        assert (spoof.status_code, spoof.json()["code"]) == (401, 1001), spoof.text
        assert "own user" in spoof.json()["message"]
        for operation in ("start", "stop"):
            body = {"operation": operation, "room_id": "r1", "user_id": "victim",
                    "file_name": "x"}
            reply = await http.post(f"{server.url}/v1/record", json=body, headers=bearer(token))
            assert (reply.status_code, reply.json()["code"]) == (401, 1001), reply.text
        # naming itself is fine; a server call must name the user
        same = await http.post(api.whip_url("r1") + "&user_id=mallory", content=offer,
                               headers={**SDP, **bearer(token)})
        assert same.status_code == 201, same.text
        nobody = await http.post(api.whip_url("r1"), content=offer,
                                 headers={**SDP, **bearer(server.secret_key)})
        assert (nobody.status_code, nobody.json()["code"]) == (400, 1000)
        assert (await streams_of(api, "r1"))[0]["user_id"] == "mallory"


async def test_token_lifetime_is_capped(start_server: ServerFactory) -> None:
    server = start_server(max_token_ttl_seconds=3600)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        with pytest.raises(ApiError) as err:
            await api.mint_token("alice", ttl_seconds=7200)
        assert (err.value.status, err.value.code) == (400, 1000)
        assert "LIVETAPE_MAX_TOKEN_TTL_SECONDS" in err.value.hint
        token = await api.mint_token("alice", ttl_seconds=3600)
        assert jwt.decode(token, options={"verify_signature": False})["sub"] == "alice"
    done = server.cli_raw("token", "--app-id", server.app_id, "--user-id", "a", "--ttl", "7200")
    assert done.returncode != 0 and b"LIVETAPE_MAX_TOKEN_TTL_SECONDS" in done.stderr
    long_lived = _token(server, exp=int(time.time()) + 7200)
    reply = httpx.get(f"{server.url}/v1/rooms/none", headers=bearer(long_lived))
    assert (reply.status_code, reply.json()["code"]) == (401, 1001)
