"""Where a webhook may point: the SSRF guard.

A URL must be ``http(s)://host[:port]/...`` without credentials, and every address its host
resolves to must be public (not loopback, private, link-local, shared, reserved, multicast or
unspecified), unless ``LIVETAPE_WEBHOOK_ALLOW_PRIVATE`` is set. The check runs at registration
and again before every attempt; the attempt then connects to the address that was checked
(the host name still goes in ``Host`` and, over TLS, in SNI and the certificate check), so a
DNS answer that changes in between (rebinding) cannot send it elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
RESOLVE_SECONDS = 10.0  # a name server that does not answer


class TargetRefused(ValueError):
    """The URL is malformed, does not resolve, or points at a non-public address."""


@dataclass(frozen=True)
class Target:
    """A checked URL: what to request (the checked address in place of the host name when
    pinned), and the host name for ``Host`` and SNI."""

    url: str
    request_url: str
    host_header: str | None = None
    sni_hostname: str | None = None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_syntax(url: str) -> tuple[str, str, int]:
    """The URL's scheme, host and port; TargetRefused when it cannot be a webhook URL."""
    if len(url) > MAX_URL_LENGTH or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise TargetRefused(f"the URL must be at most {MAX_URL_LENGTH} characters, without "
                            "spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("the URL must be http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not carry credentials (user:password@)")
    if parts.fragment:
        raise TargetRefused("the URL must not have a #fragment")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Check ``url`` (syntax, then every address its host resolves to) and pin it to one."""
    scheme, host, port = check_syntax(url)
    if allow_private:
        return Target(url, url)
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise TargetRefused(f"the host {host!r} does not resolve ({exc})") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise TargetRefused(f"the host {host!r} does not resolve")
    private = [a for a in addresses if not _public(a)]
    if private:
        raise TargetRefused(
            f"the host {host!r} resolves to a non-public address ({', '.join(private)}): "
            "refused (set LIVETAPE_WEBHOOK_ALLOW_PRIVATE=true to allow private networks)")
    parts = urlsplit(url)
    pinned = addresses[0]
    literal = f"[{pinned}]" if ":" in pinned else pinned
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    request_url = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc
    return Target(url, request_url, host_header=host_header,
                  sni_hostname=host if scheme == "https" else None)
