"""Which key checks a user token: the one its ``kid`` header names; without a kid (tokens
minted before kids, or by the app's server with its own JWT library), each valid key."""

from __future__ import annotations

import time

import jwt
import pytest

from livetape.auth.apps import AppService, Identity
from livetape.auth.console_sessions import ConsoleSessions
from livetape.auth.keys import token_kid
from livetape.db.models import App
from livetape.db.session import Database
from livetape.errors import Catalogue, LivetapeError


def claims(app: App, user: str = "alice") -> dict[str, object]:
    now = int(time.time())
    return {"app_id": app.app_id, "sub": user, "iat": now, "exp": now + 60,
            "privileges": ["record"]}


async def refused(apps: AppService, token: str) -> str:
    with pytest.raises(LivetapeError) as err:
        await apps.authenticate(token)
    assert err.value.kind is Catalogue.UNAUTHORIZED
    assert (err.value.code, err.value.kind.http_status) == (1001, 401)
    return str(err.value)


async def test_minted_tokens_name_the_key_that_signed_them(database: Database) -> None:
    apps = AppService(database.sessions)
    app = await apps.create("a")
    token, ttl = apps.mint_token(app, "alice", 60, ["record"])
    assert ttl == 60
    assert jwt.get_unverified_header(token)["kid"] == token_kid(app.secret_key)
    assert await apps.authenticate(token) == Identity(app.app_id, "alice",
                                                      frozenset({"record"}))


async def test_an_unknown_kid_is_refused(database: Database) -> None:
    apps = AppService(database.sessions)
    app = await apps.create("a")
    forged = jwt.encode(claims(app), app.secret_key, algorithm="HS256",
                        headers={"kid": "not-a-key-of-this-app"})
    assert "kid" in await refused(apps, forged)


async def test_the_kid_picks_the_key_during_a_grace_period(database: Database) -> None:
    apps = AppService(database.sessions)
    app = await apps.create("a")
    old_secret = app.secret_key
    old_token, _ = apps.mint_token(app, "alice", 60, [])
    _, new_secret = await apps.keys.rotate(app.app_id, 3600)
    current = await apps.get(app.app_id)
    assert current is not None
    new_token, _ = apps.mint_token(current, "bob", 60, [])
    assert (await apps.authenticate(old_token)).user_id == "alice"  # the old key, in grace
    assert (await apps.authenticate(new_token)).user_id == "bob"
    # signed by one valid key but naming the other: the named key does not verify it
    crossed = jwt.encode(claims(app), old_secret, algorithm="HS256",
                         headers={"kid": token_kid(new_secret)})
    assert "invalid token" in await refused(apps, crossed)

    listed = await apps.keys.list(app.app_id)
    await apps.keys.revoke(app.app_id, listed[0].key_id)  # the old key
    assert "kid" in await refused(apps, old_token)


async def test_tokens_without_a_kid_are_checked_against_each_valid_key(
        database: Database) -> None:
    apps = AppService(database.sessions)
    app = await apps.create("a")
    old_secret = app.secret_key
    await apps.keys.rotate(app.app_id, 3600)
    plain = jwt.encode(claims(app), old_secret, algorithm="HS256")  # no kid: the README's way
    assert "kid" not in jwt.get_unverified_header(plain)
    assert (await apps.authenticate(plain)).user_id == "alice"
    stranger = jwt.encode(claims(app), "a-key-that-was-never-this-apps-0123456789", "HS256")
    assert "invalid token" in await refused(apps, stranger)


async def test_console_sessions_name_their_key_too(database: Database) -> None:
    apps = AppService(database.sessions)
    app = await apps.create("a")
    sessions = ConsoleSessions(apps, ttl_seconds=60)
    token = await sessions.sign_in(app.app_id, app.secret_key)
    assert jwt.get_unverified_header(token)["kid"] == token_kid(app.secret_key)
    assert (await sessions.verify(token)).app_id == app.app_id
    now = int(time.time())
    old_style = jwt.encode({"app_id": app.app_id, "kind": "console", "iat": now,
                            "exp": now + 60}, app.secret_key, algorithm="HS256")
    assert (await sessions.verify(old_style)).is_server
    forged = jwt.encode({"app_id": app.app_id, "kind": "console", "iat": now, "exp": now + 60},
                        app.secret_key, algorithm="HS256", headers={"kid": "nope"})
    with pytest.raises(LivetapeError) as err:
        await sessions.verify(forged)
    assert err.value.code == 1001
