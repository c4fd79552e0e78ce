"""An app's secret keys: rotation with a grace period, masked listing, revocation.

The app row's ``secret_key`` is the current key: server calls may use it and it signs the
user tokens livetape mints. Rotating makes a new current key; the old one keeps working
(for server calls and for verifying tokens it signed) until its grace period ends.
Revoking stops a key at once; the current key cannot be revoked (rotate first).

Tokens livetape signs carry the JWT header ``kid``: a fingerprint of the signing secret (a
truncated SHA-256: it tells nothing of the secret, and minting needs no lookup). Checking a
token picks the one valid key with that fingerprint instead of trying each key in turn.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.auth.app_views import KeyView
from livetape.db.models import App, AppKey, utcnow
from livetape.errors import Catalogue, LivetapeError


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_key(app_id: str, secret: str) -> AppKey:
    return AppKey(key_id=f"key_{secrets.token_hex(6)}", app_id=app_id, secret=secret,
                  created_at=utcnow())


def token_kid(secret: str) -> str:
    """The ``kid`` header of the tokens ``secret`` signs."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def mask(secret: str) -> str:
    return f"{secret[:4]}...{secret[-4:]}"


def _valid(at: datetime) -> Any:
    return (AppKey.revoked_at.is_(None)) & or_(AppKey.expires_at.is_(None),
                                               AppKey.expires_at > at)


class KeyService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def app_by_secret(self, secret: str) -> App | None:
        """The app whose valid (current or in-grace) key this is."""
        async with self._sessions() as session:
            key = await session.scalar(select(AppKey).where(AppKey.secret == secret,
                                                            _valid(utcnow())))
            return await session.get(App, key.app_id) if key is not None else None

    async def secrets_of(self, app: App) -> list[str]:
        """Every valid secret of the app, the current one first (to verify tokens)."""
        async with self._sessions() as session:
            rows = await session.scalars(select(AppKey.secret).where(
                AppKey.app_id == app.app_id, _valid(utcnow())))
            others = [s for s in rows if s != app.secret_key]
        return [app.secret_key, *others]

    async def verifying_secrets(self, app: App, kid: str | None) -> list[str]:
        """The secrets to check a token of ``app`` with: the valid one its ``kid`` names (none
        when no valid key has that kid: unknown, revoked or past its grace period)."""
        valid = await self.secrets_of(app)
        if kid is None:
            # No kid: a token minted before livetape put one in (still accepted through its
            # ttl) or by the app's server with its own JWT library (the README's recipe has
            # none). Those are checked against each valid key, the current one first.
            return valid
        return [secret for secret in valid if token_kid(secret) == kid]

    async def list(self, app_id: str) -> list[KeyView]:
        async with self._sessions() as session:
            app = await session.get(App, app_id)
            keys = list(await session.scalars(select(AppKey).where(AppKey.app_id == app_id)
                                              .order_by(AppKey.created_at)))
        at = utcnow()
        current = app.secret_key if app is not None else ""
        return [KeyView(
            key_id=key.key_id, secret=mask(key.secret),
            state=("revoked" if key.revoked_at else "current" if key.secret == current
                   else "expired" if key.expires_at and key.expires_at <= at else "grace"),
            create_time=key.created_at.isoformat(),
            expire_time=key.expires_at.isoformat() if key.expires_at else None,
        ) for key in keys]

    async def rotate(self, app_id: str, grace_seconds: int) -> tuple[AppKey, str]:
        """A new current key; the old one expires after ``grace_seconds``. Returns the new
        key and its secret (shown once)."""
        secret = new_secret()
        async with self._sessions() as session, session.begin():
            app = await session.get(App, app_id)
            if app is None:
                raise LivetapeError(Catalogue.NOT_FOUND, f"no app {app_id!r}")
            old = await session.scalar(select(AppKey).where(AppKey.secret == app.secret_key))
            if old is not None:
                old.expires_at = utcnow() + timedelta(seconds=grace_seconds)
            key = new_key(app_id, secret)
            session.add(key)
            app.secret_key = secret
        return key, secret

    async def revoke(self, app_id: str, key_id: str) -> None:
        async with self._sessions() as session, session.begin():
            key = await session.get(AppKey, key_id)
            app = await session.get(App, app_id)
            if key is None or key.app_id != app_id or app is None:
                raise LivetapeError(Catalogue.NOT_FOUND, f"no key {key_id!r}")
            if key.secret == app.secret_key:
                raise LivetapeError(Catalogue.CONFLICT, "the current key cannot be revoked",
                                    hint="rotate first, then revoke the old key")
            key.revoked_at = key.revoked_at or utcnow()
