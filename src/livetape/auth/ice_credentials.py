"""The ICE servers a publisher is given: STUN, and TURN with short-lived credentials.

TURN credentials follow the TURN REST API convention that coturn (``use-auth-secret``) and
most TURN servers check without asking livetape: ``username = "<expiry>:<user_id>"`` (expiry
in Unix seconds) and ``credential = base64(HMAC-SHA1(shared secret, username))``. The shared
secret is ``LIVETAPE_TURN_SECRET``, the same as coturn's ``static-auth-secret``; the
credentials work until the expiry and name the user they were minted for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from pydantic import BaseModel, Field


class IceServer(BaseModel):
    """One entry of ``RTCConfiguration.iceServers``, as browsers and aiortc take it."""

    urls: list[str] = Field(description="stun:, turn: or turns: URLs")
    username: str | None = Field(default=None, description="TURN: '<expiry>:<user_id>'")
    credential: str | None = Field(default=None,
                                   description="TURN: base64(HMAC-SHA1(secret, username))")


def turn_credential(secret: str, username: str) -> str:
    """The TURN REST API password for ``username`` under the shared ``secret``."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class IceCredentials:
    """Mints the ICE server list for a user (the SDKs ask for it before publishing)."""

    def __init__(self, *, stun_urls: list[str], turn_urls: list[str], turn_secret: str | None,
                 ttl_seconds: int) -> None:
        self._stun_urls = stun_urls
        self._turn_urls = turn_urls
        self._secret = turn_secret
        self.ttl_seconds = ttl_seconds

    def for_user(self, user_id: str, *, now: float | None = None) -> list[IceServer]:
        """STUN servers as configured, then the TURN servers with credentials for
        ``user_id`` that expire ``ttl_seconds`` from ``now``; empty when none is configured."""
        servers = [IceServer(urls=self._stun_urls)] if self._stun_urls else []
        if self._turn_urls and self._secret:
            expiry = int(now if now is not None else time.time()) + self.ttl_seconds
            username = f"{expiry}:{user_id}"
            servers.append(IceServer(urls=self._turn_urls, username=username,
                                     credential=turn_credential(self._secret, username)))
        return servers
