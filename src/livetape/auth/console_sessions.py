"""Web console sessions: a short-lived JWT in a cookie, standing in for the secret key.

Signing in checks ``app_id`` + ``secret_key`` as a server call would, then hands out a JWT
(HS256) signed with the app's current secret key, carrying ``app_id``, ``kind: "console"``,
``iat`` and ``exp`` and no user: whoever holds it acts as the app's server. It is checked
against the app's valid secret its ``kid`` header names (the current key or one in its grace
period, as user tokens are), so revoking a key, or rotating past its grace period, ends the
sessions it signed. Nothing is stored: no session table.
"""

from __future__ import annotations

import secrets
import time

import jwt

from livetape.auth.apps import PRIVILEGES, TOKEN_ALGORITHM, AppService, Identity
from livetape.auth.keys import token_kid
from livetape.errors import Catalogue, LivetapeError

KIND = "console"
SIGN_IN_AGAIN = "sign in again at /console"


def _refused(detail: str) -> LivetapeError:
    return LivetapeError(Catalogue.UNAUTHORIZED, detail, hint=SIGN_IN_AGAIN)


class ConsoleSessions:
    """Mints and checks console session tokens for the apps of ``apps``."""

    def __init__(self, apps: AppService, ttl_seconds: int) -> None:
        self._apps = apps
        self.ttl_seconds = ttl_seconds

    async def sign_in(self, app_id: str, secret_key: str) -> str:
        """A session token for the app whose valid secret key this is; 1001 otherwise."""
        app = await self._apps.by_secret(secret_key) if secret_key else None
        if app is None or not secrets.compare_digest(app.app_id.encode(), app_id.encode()):
            raise LivetapeError(Catalogue.UNAUTHORIZED, "wrong app id or secret key",
                                hint="use the app_id and secret_key printed by "
                                "`livetape app create` (or a key from POST /v1/app/keys/rotate)")
        now = int(time.time())
        claims = {"app_id": app.app_id, "kind": KIND, "iat": now, "exp": now + self.ttl_seconds,
                  "jti": secrets.token_hex(8)}
        return jwt.encode(claims, app.secret_key, algorithm=TOKEN_ALGORITHM,
                          headers={"kid": token_kid(app.secret_key)})

    async def verify(self, token: str) -> Identity:
        """The app's server identity behind a session token; 1001 when it is not valid now."""
        return (await self.check(token))[0]

    async def check(self, token: str) -> tuple[Identity, int]:
        """As :meth:`verify`, with the session's expiry (Unix seconds)."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise _refused("the console session is not a token") from exc
        app = await self._apps.get(str(unverified.get("app_id", "")))
        if app is None or unverified.get("kind") != KIND or "sub" in unverified:
            raise _refused("not a console session")
        # the key its kid names; sessions signed before kids were written: each valid key
        for secret in await self._apps.keys.verifying_secrets(app, kid):
            try:
                claims = jwt.decode(token, secret, algorithms=[TOKEN_ALGORITHM],
                                    options={"require": ["exp", "iat", "app_id", "kind"]})
            except jwt.ExpiredSignatureError as exc:
                raise _refused("the console session expired") from exc
            except jwt.InvalidSignatureError:
                continue  # maybe signed by a key still in its grace period
            except jwt.PyJWTError as exc:
                raise _refused(f"invalid console session: {exc}") from exc
            return Identity(app.app_id, None, frozenset(PRIVILEGES)), int(claims["exp"])
        raise _refused("the console session was signed by a key that is no longer valid")
