"""How livetape is reached: its HTTP listener, TLS, proxies, and WebRTC's ports and addresses.

Part of :class:`livetape.config.Settings` (which extends this class), kept apart because these
are the settings a deployment changes (README, Deploying), each validated here so a bad one
stops start-up with its variable's name.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _listed(value: object) -> object:
    """A list setting from the environment: a JSON list, like the other list settings, or
    comma-separated values; anything else as it came (pydantic then checks its type)."""
    if isinstance(value, str) and value.strip().startswith("["):
        return json.loads(value)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class NetworkSettings(BaseSettings):
    """The settings of how livetape is reached; ``LIVETAPE_<NAME>`` variables."""

    model_config = SettingsConfigDict(env_prefix="LIVETAPE_", extra="ignore")

    host: str = Field("127.0.0.1", description="HTTP listen address.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP listen port.")
    public_url: str | None = Field(
        None, description="Base URL put in play URLs; default: the URL the request came to."
    )
    tls_cert: Path | None = Field(
        None, description="HTTPS: the server's certificate (PEM, with its chain), with "
        "LIVETAPE_TLS_KEY. Unset: plain HTTP (or TLS at a reverse proxy: README, Deploying).",
    )
    tls_key: Path | None = Field(None, description="HTTPS: the certificate's private key (PEM).")
    stun_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="STUN servers handed to publishers (GET "
        "/v1/ice-servers): comma-separated or a JSON list, e.g. stun:stun.example.org:3478.",
    )
    turn_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="TURN servers handed to publishers with short-lived "
        "credentials (needs LIVETAPE_TURN_SECRET): comma-separated or a JSON list, e.g. "
        "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349?transport=tcp.",
    )
    turn_secret: str | None = Field(
        None, min_length=16, description="The TURN server's shared secret (coturn: "
        "use-auth-secret, static-auth-secret): livetape signs TURN credentials with it.",
    )
    turn_ttl_seconds: int = Field(
        3600, ge=60, le=7 * 86400, description="How long minted TURN credentials work.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Addresses or networks (CIDR) of reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated); empty: "
        "none, the client is the connection's peer (what rlimit counts).",
    )
    ice_udp_port: int | None = Field(
        None, ge=1, le=65535, description="One UDP port for the WebRTC media of every "
        "publication of this process (e.g. 7881), bound on each of the host's addresses at "
        "start-up: a firewall opens this port alone. Unset: LIVETAPE_ICE_UDP_PORTS, else a "
        "kernel-chosen port per publication.",
    )
    ice_udp_ports: Annotated[tuple[int, int] | None, NoDecode] = Field(
        None, description="Instead of one port, a range (e.g. 50000-50100): each publication "
        "binds its own port in it; full, WHIP answers 503 / 1003.",
    )
    ice_public_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Addresses (IPv4 or IPv6) the WHIP answer announces "
        "instead of the host's own: behind 1:1 NAT, the public ones (comma-separated).",
    )
    ice_discover_public_ip: bool = Field(
        False, description="Learn the public IPv4 address once at start-up from the first "
        "stun: URL of LIVETAPE_STUN_URLS, and announce it as if it were listed in "
        "LIVETAPE_ICE_PUBLIC_IPS.",
    )
    ice_keep_host_addresses: bool = Field(
        False, description="With announced addresses, still offer the host's own ones too "
        "(publishers on the same network reach them directly).",
    )
    udp_receive_buffer_bytes: int = Field(
        4 * 1024 * 1024, ge=0, description="Receive buffer asked for every media UDP socket "
        "(the shared port, the port range, per-session ports), so a burst waits in the kernel "
        "instead of being dropped; capped by the kernel at net.core.rmem_max (logged, never "
        "fatal; raise it with sysctl for more). 0: the kernel's default.",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> NetworkSettings:
        """Both or neither, and a pair that loads: checked before the server listens."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("LIVETAPE_TLS_CERT and LIVETAPE_TLS_KEY go together: set both "
                             "for HTTPS, or neither")
        if self.tls_cert is not None and self.tls_key is not None:
            for name, path in (("LIVETAPE_TLS_CERT", self.tls_cert),
                               ("LIVETAPE_TLS_KEY", self.tls_key)):
                if not path.is_file():
                    raise ValueError(f"{name}: no file {str(path)!r}")
            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                    self.tls_cert, self.tls_key)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"LIVETAPE_TLS_CERT / LIVETAPE_TLS_KEY do not load as a PEM "
                                 f"certificate and its key: {exc}") from exc
        return self

    @model_validator(mode="after")
    def _turn_secret(self) -> NetworkSettings:
        if self.turn_urls and not self.turn_secret:
            raise ValueError("LIVETAPE_TURN_URLS needs LIVETAPE_TURN_SECRET (the TURN server's "
                             "shared secret) to mint credentials")
        return self

    @field_validator("stun_urls", "turn_urls", mode="before")
    @classmethod
    def _ice_urls(cls, value: object) -> object:
        value = _listed(value)
        if isinstance(value, list):
            for url in value:
                if not str(url).startswith(("stun:", "stuns:", "turn:", "turns:")):
                    raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        value = _listed(value)
        if isinstance(value, list):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry), strict=False)
                except ValueError as exc:
                    raise ValueError(f"{entry!r} is not an IP address or network") from exc
        return value

    @field_validator("ice_udp_ports", mode="before")
    @classmethod
    def _port_range(cls, value: object) -> object:
        if isinstance(value, str):
            first, dash, last = value.partition("-")
            if not (dash and first.strip().isdigit() and last.strip().isdigit()):
                raise ValueError(f"{value!r} is not a port range like 50000-50100")
            value = (int(first), int(last))
        if isinstance(value, (tuple, list)) and len(value) == 2:
            low, high = int(value[0]), int(value[1])
            if not 1 <= low <= high <= 65535:
                raise ValueError(f"{low}-{high} is not a range of ports (1-65535, low first)")
        return value

    @field_validator("ice_public_ips", mode="before")
    @classmethod
    def _ip_addresses(cls, value: object) -> object:
        value = _listed(value)
        if isinstance(value, list):
            addresses = []
            for entry in value:
                try:
                    addresses.append(str(ipaddress.ip_address(str(entry))))
                except ValueError as exc:
                    raise ValueError(f"{entry!r} is not an IP address") from exc
            return addresses
        return value

    @model_validator(mode="after")
    def _ice_ports(self) -> NetworkSettings:
        if self.ice_udp_port and self.ice_udp_ports:
            raise ValueError("LIVETAPE_ICE_UDP_PORT and LIVETAPE_ICE_UDP_PORTS exclude each "
                             "other: one shared port, or a range of ports, not both")
        if self.ice_discover_public_ip and not any(
                url.startswith("stun:") for url in self.stun_urls):
            raise ValueError("LIVETAPE_ICE_DISCOVER_PUBLIC_IP needs a stun: URL in "
                             "LIVETAPE_STUN_URLS to ask")
        return self
