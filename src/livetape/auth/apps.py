"""Apps, their secret keys, and user tokens.

A user token is a JWT (HS256 = HMAC-SHA256) signed with the app's secret key, carrying
``app_id``, ``sub`` (the user id), ``exp`` and ``privileges``, and the header ``kid`` naming
the key that signed it (:func:`livetape.auth.keys.token_kid`). App servers may mint tokens
with any JWT library; the README shows how.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.auth.keys import KeyService, new_key, new_secret, token_kid
from livetape.db.models import App
from livetape.errors import Catalogue, ErrorKind, LivetapeError

TOKEN_ALGORITHM = "HS256"
PRIVILEGES = ("record",)  # publishing needs only a valid token


@dataclass(frozen=True)
class Identity:
    """Who is calling: the app's server (user_id None) or one user with a token."""

    app_id: str
    user_id: str | None
    privileges: frozenset[str]

    @property
    def is_server(self) -> bool:
        return self.user_id is None

    def acting_user(self, requested: str | None,
                    missing: ErrorKind = Catalogue.INVALID_PARAMETER) -> str:
        """The user a request acts for: a user token acts only as its own user; only the
        app's server may name one (``user_id`` in the request; ``missing`` when it did not)."""
        if self.user_id is not None:
            if requested not in (None, self.user_id):
                raise LivetapeError(
                    Catalogue.UNAUTHORIZED, f"a user token acts only as its own user "
                    f"({self.user_id!r}), not as {requested!r}",
                    hint="leave user_id out with a user token; only the app's secret key may "
                    "name another user")
            return self.user_id
        if not requested:
            raise LivetapeError(missing, "user_id is required for server calls")
        return requested


class AppService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 token_ttl: int = 86400, max_token_ttl: int = 604800,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.sessions = sessions
        self._on_change = on_change  # told the app id when its settings change (caches)
        self.keys = KeyService(sessions)
        self.token_ttl = token_ttl  # a minted token's lifetime unless asked otherwise
        self.max_token_ttl = max_token_ttl  # longest lifetime minted or accepted

    async def create(self, name: str, *, vod: bool = True) -> App:
        app = App(app_id=f"{int(time.time()) % 10**6:06d}{secrets.randbelow(10**4):04d}",
                  name=name, secret_key=new_secret(),
                  play_key=secrets.token_hex(16), sign_play_urls=True, vod_activated=vod)
        async with self.sessions() as session, session.begin():
            session.add(app)
            await session.flush()
            session.add(new_key(app.app_id, app.secret_key))
        return app

    async def set_vod(self, app_id: str, activated: bool) -> App | None:
        """Activate (or deactivate) VOD for an app; None when there is no such app."""
        async with self.sessions() as session, session.begin():
            app = await session.get(App, app_id)
            if app is not None:
                app.vod_activated = activated
            return app

    async def update_settings(
        self, app_id: str, *, sign_play_urls: bool | None = None,
        vod_activated: bool | None = None, record_enabled: bool | None = None,
        rotate_play_key: bool = False,
    ) -> App | None:
        """Change the settings given (None: unchanged); a new play key (the anti-leech KEY)
        when ``rotate_play_key``. Returns the app, None when there is no such app."""
        values: dict[str, object] = {
            name: value for name, value in (("sign_play_urls", sign_play_urls),
                                            ("vod_activated", vod_activated),
                                            ("record_enabled", record_enabled))
            if value is not None}
        if rotate_play_key:
            values["play_key"] = secrets.token_hex(16)
        if values:
            async with self.sessions() as session, session.begin():
                await session.execute(update(App).where(App.app_id == app_id).values(**values))
            if self._on_change is not None:
                self._on_change(app_id)
        return await self.get(app_id)

    async def set_watermark(self, app_id: str, key: str | None,
                            position: str | None = None) -> None:
        """Point the app at its watermark template's storage key (None: no watermark), in
        ``position`` when given."""
        values: dict[str, object] = {"watermark_key": key}
        if position is not None:
            values["watermark_position"] = position
        async with self.sessions() as session, session.begin():
            await session.execute(update(App).where(App.app_id == app_id).values(**values))

    async def first_named(self, name: str) -> App | None:
        async with self.sessions() as session:
            result = await session.scalars(select(App).where(App.name == name).limit(1))
            return result.first()

    async def get(self, app_id: str) -> App | None:
        async with self.sessions() as session:
            return await session.get(App, app_id)

    async def by_secret(self, secret_key: str) -> App | None:
        """The app of a valid secret key (the current one, or one in its grace period)."""
        return await self.keys.app_by_secret(secret_key)

    def mint_token(self, app: App, user_id: str, ttl_seconds: int | None,
                   privileges: list[str]) -> tuple[str, int]:
        """A user token and its lifetime (the default when ``ttl_seconds`` is None)."""
        unknown = set(privileges) - set(PRIVILEGES)
        if unknown:
            raise LivetapeError(Catalogue.INVALID_PARAMETER,
                                f"unknown privileges {sorted(unknown)}")
        if not user_id:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, "user_id is required")
        ttl_seconds = ttl_seconds or self.token_ttl
        if not 0 < ttl_seconds <= self.max_token_ttl:
            raise LivetapeError(
                Catalogue.INVALID_PARAMETER,
                f"ttl_seconds must be 1-{self.max_token_ttl}",
                hint="ask for a shorter lifetime; the cap is LIVETAPE_MAX_TOKEN_TTL_SECONDS")
        now = int(time.time())
        claims = {"app_id": app.app_id, "sub": user_id, "iat": now, "exp": now + ttl_seconds,
                  "privileges": sorted(set(privileges))}
        token = jwt.encode(claims, app.secret_key, algorithm=TOKEN_ALGORITHM,
                           headers={"kid": token_kid(app.secret_key)})
        return token, ttl_seconds

    async def authenticate(self, bearer: str | None) -> Identity:
        """The caller behind an ``Authorization: Bearer`` value: a secret key or a user token."""
        if not bearer:
            raise LivetapeError(Catalogue.UNAUTHORIZED, "no Authorization: Bearer header")
        app = await self.by_secret(bearer)
        if app is not None:
            return Identity(app.app_id, None, frozenset(PRIVILEGES))
        try:
            unverified = jwt.decode(bearer, options={"verify_signature": False})
            kid = jwt.get_unverified_header(bearer).get("kid")
        except jwt.PyJWTError as exc:
            raise LivetapeError(Catalogue.UNAUTHORIZED, "not a secret key or user token") from exc
        app = await self.get(str(unverified.get("app_id", "")))
        if app is None:
            raise LivetapeError(Catalogue.UNAUTHORIZED, "token names an unknown app")
        candidates = await self.keys.verifying_secrets(app, kid)
        if not candidates:
            raise LivetapeError(Catalogue.UNAUTHORIZED, "invalid token: its key (kid) is not a "
                                "valid key of the app (revoked, or past its grace period)")
        failure: jwt.PyJWTError | None = None
        for secret in candidates:  # the key its kid names; with no kid, each valid key
            try:
                claims = jwt.decode(bearer, secret, algorithms=[TOKEN_ALGORITHM],
                                    options={"require": ["exp", "sub", "app_id"]})
            except jwt.ExpiredSignatureError as exc:
                raise LivetapeError(Catalogue.UNAUTHORIZED, "token expired") from exc
            except jwt.InvalidSignatureError as exc:
                failure = exc
                continue
            except jwt.PyJWTError as exc:
                raise LivetapeError(Catalogue.UNAUTHORIZED, f"invalid token: {exc}") from exc
            return self._user_identity(app.app_id, claims)
        raise LivetapeError(Catalogue.UNAUTHORIZED, f"invalid token: {failure}")

    def _user_identity(self, app_id: str, claims: dict[str, Any]) -> Identity:
        """The identity of a verified token's claims; refuses claims that name nobody or
        that livetape does not know."""
        sub, privileges = claims["sub"], claims.get("privileges", [])
        if not isinstance(sub, str) or not sub.strip():
            raise LivetapeError(Catalogue.UNAUTHORIZED, "invalid token: 'sub' (the user id) "
                                "must be a non-empty string")
        if not isinstance(privileges, list) or not set(privileges) <= set(PRIVILEGES):
            raise LivetapeError(Catalogue.UNAUTHORIZED, f"invalid token: 'privileges' must be "
                                f"a list of {list(PRIVILEGES)}, not {privileges!r}")
        issued = claims.get("iat")
        start = issued if isinstance(issued, int | float) else time.time()
        if claims["exp"] - min(start, time.time()) > self.max_token_ttl + 60:
            raise LivetapeError(
                Catalogue.UNAUTHORIZED, f"invalid token: it lives longer than "
                f"{self.max_token_ttl} s", hint="mint tokens with a shorter lifetime, or raise "
                "LIVETAPE_MAX_TOKEN_TTL_SECONDS")
        return Identity(app_id, sub, frozenset(privileges))
