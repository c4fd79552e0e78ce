"""Apps and tokens through the CLI and HTTP: good tokens work, bad ones get 401 with a reason."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from livetape.client.api import ApiError, LivetapeClient
from livetape_harness.server import LiveServer


async def test_cli_app_and_token_work_against_the_api(server: LiveServer) -> None:
    token = server.cli("token", "--app-id", server.app_id, "--user-id", "alice")["token"]
    claims = jwt.decode(token, server.secret_key, algorithms=["HS256"])
    assert claims["app_id"] == server.app_id and claims["sub"] == "alice"
    assert claims["privileges"] == ["record"]
    assert claims["exp"] > time.time() + 3600
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("r1")
    async with LivetapeClient(server.url, token=token) as user:
        room = await user.get_room("r1")
        assert room["room_id"] == "r1" and room["members"] == []


async def test_post_tokens_mints_for_server_callers_only(
    server: LiveServer, api: LivetapeClient
) -> None:
    token = await api.mint_token("bob", ttl_seconds=60, privileges=[])
    claims = jwt.decode(token, server.secret_key, algorithms=["HS256"])
    assert claims["sub"] == "bob" and claims["privileges"] == []
    assert claims["exp"] - claims["iat"] == 60
    async with LivetapeClient(server.url, token=token) as user:
        with pytest.raises(ApiError) as err:
            await user.mint_token("mallory")
        assert err.value.status == 401 and err.value.code == 1001


def test_token_minted_by_the_app_server_itself_is_accepted(server: LiveServer) -> None:
    """The README's recipe: any JWT library, HS256 with the secret key."""
    now = int(time.time())
    token = jwt.encode(
        {"app_id": server.app_id, "sub": "carol", "iat": now, "exp": now + 60,
         "privileges": ["record"]}, server.secret_key, algorithm="HS256",
    )
    httpx.post(f"{server.url}/v1/rooms", json={"room_id": "r"},
               headers={"Authorization": f"Bearer {server.secret_key}"}).raise_for_status()
    reply = httpx.get(f"{server.url}/v1/rooms/r", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing", "no Authorization"),
        ("garbage", "not a secret key or user token"),
        ("expired", "expired"),
        ("wrong_key", "invalid token"),
        ("foreign_app", "unknown app"),
    ],
)
def test_bad_credentials_get_401(server: LiveServer, case: str, needle: str) -> None:
    now = int(time.time())
    claims = {"app_id": server.app_id, "sub": "u", "iat": now, "exp": now + 60}
    tokens = {
        "missing": None,
        "garbage": "not-a-token",
        "expired": jwt.encode({**claims, "exp": now - 10}, server.secret_key, "HS256"),
        "wrong_key": jwt.encode(claims, "some-other-key-that-is-long-enough-for-hs256", "HS256"),
        "foreign_app": jwt.encode({**claims, "app_id": "999"}, server.secret_key, "HS256"),
    }
    headers = {"Authorization": f"Bearer {tokens[case]}"} if tokens[case] else {}
    reply = httpx.post(f"{server.url}/v1/record", headers=headers, content=b"{}")
    assert reply.status_code == 401
    body = reply.json()
    assert body["code"] == 1001 and needle in body["message"] and body["hint"]


def test_other_apps_secret_cannot_see_this_apps_rooms(server: LiveServer) -> None:
    other_id, other_key = server.create_app("other")
    assert other_id != server.app_id
    httpx.post(f"{server.url}/v1/rooms", json={"room_id": "mine"},
               headers={"Authorization": f"Bearer {server.secret_key}"}).raise_for_status()
    reply = httpx.get(f"{server.url}/v1/rooms/mine",
                      headers={"Authorization": f"Bearer {other_key}"})
    assert reply.status_code == 404 and reply.json()["code"] == 30000410


async def test_key_rotation_grace_listing_and_revocation(server: LiveServer) -> None:
    old = server.secret_key
    async with LivetapeClient(server.url, secret_key=old) as api:
        token = await api.mint_token("alice")  # signed with the old key
        rotated = await api._call("POST", "/v1/app/keys/rotate", json={"grace_seconds": 3600})
    new = rotated["secret_key"]
    assert new != old
    for key in (old, new):  # both work during the grace period, tokens signed by the old too
        assert _get(server, "/v1/app", key).status_code == 200
    assert _get(server, "/v1/rooms/nowhere", token).json()["code"] == 30000410
    listed = _get(server, "/v1/app/keys", new).json()["keys"]
    assert [k["state"] for k in listed] == ["grace", "current"]
    assert all(old not in str(k) and new not in str(k) for k in listed)  # masked
    assert listed[0]["secret"] == f"{old[:4]}...{old[-4:]}"

    current = httpx.delete(f"{server.url}/v1/app/keys/{listed[1]['key_id']}",
                           headers={"Authorization": f"Bearer {new}"})
    assert (current.status_code, current.json()["code"]) == (409, 1002)
    revoked = httpx.delete(f"{server.url}/v1/app/keys/{listed[0]['key_id']}",
                           headers={"Authorization": f"Bearer {new}"})
    assert revoked.json()["code"] == 0
    assert _get(server, "/v1/app", old).json()["code"] == 1001  # revoked: refused at once
    assert _get(server, "/v1/rooms/nowhere", token).json()["code"] == 1001
    assert [k["state"] for k in _get(server, "/v1/app/keys", new).json()["keys"]] == [
        "revoked", "current"]

    # the CLI rotates with no grace: the previous key stops at once
    done = server.cli("app", "keys", "rotate", server.app_id, "--grace", "0")
    assert _get(server, "/v1/app", new).json()["code"] == 1001
    assert _get(server, "/v1/app", done["secret_key"]).status_code == 200
    states = [k["state"] for k in server.cli("app", "keys", "list", server.app_id)["keys"]]
    assert states == ["revoked", "expired", "current"]


def _get(server: LiveServer, path: str, bearer: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Authorization": f"Bearer {bearer}"})
