"""Signed play URLs: the original's anti-leech scheme.

``<url>?t=<expiry, lower-case hex unix time>&exper=<trial seconds>&rlimit=<max distinct
IPs>&us=<random>&sign=<md5(KEY + Dir + t + exper + rlimit + us)>``, where KEY is the app's
play key and Dir the URL path up to and including its last ``/``. As in the original,
``exper``, ``rlimit`` and ``us`` may be left out; they then count as empty strings in the
signature and mean "no trial limit", "no IP limit". A request that fails the check is
answered 403 with the reason.

The viewer IPs behind ``rlimit`` are remembered in this process, per signature, until the
URL expires (at most ``max_tracked`` signatures, the least recently used dropped first). In a
cluster they are counted in NATS (a :class:`ViewerCounter`,
:mod:`livetape.cluster.viewers`), so every node enforces one count; while NATS cannot be
reached each node falls back to its own count (logged), rather than refusing every viewer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from cachetools import TLRUCache

from livetape.errors import Catalogue, LivetapeError

log = logging.getLogger(__name__)


def url_dir(path: str) -> str:
    """Dir of the signature: the path without the file name (ends with ``/``)."""
    return path[: path.rfind("/") + 1]


def signature(key: str, path: str, t: str, exper: str, rlimit: str, us: str) -> str:
    return hashlib.md5(f"{key}{url_dir(path)}{t}{exper}{rlimit}{us}".encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """The checked parameters of a signed request (they sign the URLs a playlist names)."""

    t: str
    exper: str
    rlimit: str
    us: str

    @property
    def trial_seconds(self) -> int:
        return int(self.exper or 0)

    def query(self, key: str, path: str) -> str:
        """The signed query string for another object under the same grant."""
        params = {"t": self.t}
        params.update({k: v for k, v in (("exper", self.exper), ("rlimit", self.rlimit),
                                         ("us", self.us)) if v})
        params["sign"] = signature(key, path, self.t, self.exper, self.rlimit, self.us)
        return urlencode(params)


def new_grant(ttl_seconds: int, *, exper: int = 0, rlimit: int = 0) -> Grant:
    return Grant(t=format(int(time.time()) + ttl_seconds, "x"),
                 exper=str(exper) if exper else "", rlimit=str(rlimit) if rlimit else "",
                 us=secrets.token_hex(5))


def _forbidden(detail: str) -> LivetapeError:
    return LivetapeError(Catalogue.PLAY_FORBIDDEN, detail)


class ViewerCounter(Protocol):
    """The viewer IPs of each ``rlimit`` URL, counted where every node sees them."""

    async def admit(self, sign: str, expires: int, ip: str, rlimit: int) -> list[str] | None:
        """The URL's viewer IPs with ``ip`` admitted, or None: ``rlimit`` others came first."""


class PlayGuard:
    """Checks signed requests and counts the distinct viewer IPs of each signature."""

    def __init__(self, max_tracked: int, shared: ViewerCounter | None = None) -> None:
        # signature -> (expiry, viewer IPs), kept while the URL is valid: through the whole
        # second ``expiry`` (``check`` refuses only once ``expiry < now``); in a cluster, the
        # IPs this node saw admitted (they need no second question to NATS)
        self._viewers: TLRUCache[str, tuple[int, set[str]]] = TLRUCache(
            maxsize=max_tracked, ttu=lambda _sign, entry, _now: entry[0] + 1, timer=time.time)
        self._shared = shared
        self._shared_failing = False

    def check(self, key: str, path: str, params: dict[str, str], client_ip: str) -> Grant:
        """The grant of a valid request, its viewer counted in this process."""
        grant, expires, rlimit = self._verify(key, path, params)
        if rlimit > 0:
            self._admit(params["sign"].lower(), expires, client_ip, rlimit)
        return grant

    async def admit(self, key: str, path: str, params: dict[str, str], client_ip: str) -> Grant:
        """:meth:`check`, its viewer counted over the cluster when there is one."""
        if self._shared is None:
            return self.check(key, path, params, client_ip)
        grant, expires, rlimit = self._verify(key, path, params)
        if rlimit > 0:
            await self._admit_shared(params["sign"].lower(), expires, client_ip, rlimit)
        return grant

    def _verify(self, key: str, path: str, params: dict[str, str]) -> tuple[Grant, int, int]:
        t, sign = params.get("t", ""), params.get("sign", "")
        if not t or not sign:
            raise _forbidden("this file needs a signed URL (t and sign are missing)")
        grant = Grant(t=t, exper=params.get("exper", ""), rlimit=params.get("rlimit", ""),
                      us=params.get("us", ""))
        try:
            expires = int(t, 16)
            int(grant.exper or 0)
            rlimit = int(grant.rlimit or 0)
        except ValueError as exc:
            raise _forbidden("t must be hex; exper and rlimit must be integers") from exc
        expected = signature(key, path, grant.t, grant.exper, grant.rlimit, grant.us)
        if not hmac.compare_digest(expected, sign.lower()):
            raise _forbidden("the signature does not match this URL")
        now = int(time.time())
        if expires < now:
            raise _forbidden("the URL has expired")
        return grant, expires, rlimit

    def _admit(self, sign: str, expires: int, ip: str, rlimit: int) -> None:
        _, viewers = self._viewers.get(sign, (expires, set()))
        if ip not in viewers and len(viewers) >= rlimit:
            raise _forbidden(f"this URL is limited to {rlimit} viewer IP(s)")
        viewers.add(ip)
        self._viewers[sign] = (expires, viewers)  # drops expired signatures, then the LRU

    async def _admit_shared(self, sign: str, expires: int, ip: str, rlimit: int) -> None:
        assert self._shared is not None
        _, known = self._viewers.get(sign, (expires, set()))
        if ip in known:
            return
        try:
            ips = await self._shared.admit(sign, expires, ip, rlimit)
        except LivetapeError as exc:  # NATS away: this node's own count, not a refusal
            if not self._shared_failing:
                log.warning("rlimit counted by this node alone while NATS fails: %s", exc)
            self._shared_failing = True
            self._admit(sign, expires, ip, rlimit)
            return
        if self._shared_failing:
            log.info("rlimit counted over the cluster again")
            self._shared_failing = False
        if ips is None:
            raise _forbidden(f"this URL is limited to {rlimit} viewer IP(s)")
        self._viewers[sign] = (expires, {*known, *ips})


class PlayUrls:
    """Absolute play URLs for one app: signed under one grant, or plain when signing is off."""

    def __init__(self, base_url: str, key: str, grant: Grant | None) -> None:
        self._base = base_url.rstrip("/")
        self._key = key
        self.grant = grant

    def __call__(self, path: str) -> str:
        if self.grant is None:
            return self._base + path
        return f"{self._base}{path}?{self.grant.query(self._key, path)}"
