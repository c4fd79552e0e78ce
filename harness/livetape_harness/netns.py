"""A small internet made of network namespaces (iproute2 and nftables; needs root).

:class:`NatLab` puts the livetape server behind 1:1 NAT, the way a cloud VM sits behind its
public address, and a publisher behind its own home NAT::

    publisher ns             router ns                          this host (the server)
    192.168.N.2  --------  192.168.N.1 | 10.77.N.1  --------  10.77.N.2
    default via .1           public address 198.51.100.N:
                             DNAT to 10.77.N.2, and masquerade toward the server;
                             100.64.N.1: "the internet" (a STUN server), where the
                             server's packets arrive from the public address

The publisher reaches the server only at the public address (the router forwards nothing
else from its side), and the server cannot reach the publisher's own address at all: ICE
connects only if the server's answer announces the public address, as it would on the
internet. Everything the lab makes is removed by :meth:`stop` (the namespaces, and with them
both ends of each veth pair).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from livetape_harness.coturn import start_coturn

NFT_RULES = """
table ip livetape_lab {{
  chain pre {{
    type nat hook prerouting priority dstnat;
    ip daddr {public} dnat to {server}
  }}
  chain post {{
    type nat hook postrouting priority srcnat;
    oifname "{to_server}" masquerade
  }}
  chain input {{
    type nat hook input priority 100;
    ip saddr {server} ip daddr {stun} snat to {public}
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "{to_publisher}" ct status dnat accept
  }}
}}
"""


def require_lab() -> None:
    """Skip (or fail, where the test machine must have them) without root, ip or nft."""
    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    reason = ("not root" if os.geteuid() != 0 else
              f"missing {', '.join(missing)} (make install-test installs nftables)"
              if missing else None)
    if reason is None:
        return
    if os.environ.get("LIVETAPE_TEST_REQUIRE_CLIENTS") == "1":
        pytest.fail(f"network namespaces unavailable: {reason}")
    pytest.skip(f"network namespaces unavailable: {reason}")


def _run(*args: str, ns: str | None = None, stdin: str | None = None) -> None:
    command = list(args) if ns is None else ["ip", "netns", "exec", ns, *args]
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")


@dataclass
class NatLab:
    n: int = field(default_factory=lambda: random.randint(1, 254))
    started: bool = False

    @property
    def public_ip(self) -> str:
        return f"198.51.100.{self.n}"

    @property
    def server_ip(self) -> str:
        """The server's own address toward the router (a host address of this machine)."""
        return f"10.77.{self.n}.2"

    @property
    def stun_ip(self) -> str:
        """An address on the internet side of the router (its STUN server listens there)."""
        return f"100.64.{self.n}.1"

    @property
    def publisher_ns(self) -> str:
        return f"lt{self.n}pub"

    @property
    def router_ns(self) -> str:
        return f"lt{self.n}nat"

    def start(self) -> NatLab:
        n, pub, nat = self.n, self.publisher_ns, self.router_ns
        self.started = True
        try:
            _run("ip", "netns", "add", pub)
            _run("ip", "netns", "add", nat)
            _run("ip", "link", "add", f"lt{n}p0", "type", "veth", "peer", "name", f"lt{n}p1")
            _run("ip", "link", "set", f"lt{n}p0", "netns", pub)
            _run("ip", "link", "set", f"lt{n}p1", "netns", nat)
            _run("ip", "link", "add", f"lt{n}s0", "type", "veth", "peer", "name", f"lt{n}s1")
            _run("ip", "link", "set", f"lt{n}s1", "netns", nat)
            for ns in (pub, nat):
                _run("ip", "link", "set", "lo", "up", ns=ns)
            _run("ip", "addr", "add", f"192.168.{n}.2/24", "dev", f"lt{n}p0", ns=pub)
            _run("ip", "link", "set", f"lt{n}p0", "up", ns=pub)
            _run("ip", "route", "add", "default", "via", f"192.168.{n}.1", ns=pub)
            _run("ip", "addr", "add", f"192.168.{n}.1/24", "dev", f"lt{n}p1", ns=nat)
            _run("ip", "addr", "add", f"10.77.{n}.1/24", "dev", f"lt{n}s1", ns=nat)
            _run("ip", "link", "set", f"lt{n}p1", "up", ns=nat)
            _run("ip", "link", "set", f"lt{n}s1", "up", ns=nat)
            _run("ip", "addr", "add", f"{self.server_ip}/24", "dev", f"lt{n}s0")
            _run("ip", "link", "set", f"lt{n}s0", "up")
            _run("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward", ns=nat)
            _run("ip", "addr", "add", f"{self.stun_ip}/32", "dev", "lo", ns=nat)
            # the router's own replies to the public address route before NAT rewrites them
            _run("ip", "route", "add", f"{self.public_ip}/32", "dev", f"lt{n}s1", ns=nat)
            _run("ip", "route", "add", f"{self.stun_ip}/32", "via", f"10.77.{n}.1")
            _run("nft", "-f", "-", ns=nat, stdin=NFT_RULES.format(
                public=self.public_ip, server=self.server_ip, stun=self.stun_ip,
                to_server=f"lt{n}s1", to_publisher=f"lt{n}p1"))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        for ns in (self.publisher_ns, self.router_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", f"lt{self.n}s0"], capture_output=True, timeout=30)

    def popen(self, args: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start ``args`` in the publisher's namespace."""
        return subprocess.Popen(["ip", "netns", "exec", self.publisher_ns, *args], **options)

    @contextlib.contextmanager
    def stun_server(self) -> Iterator[str]:
        """Debian's coturn, STUN only, on the internet side of the router: it sees this
        host's packets come from the public address. Yields its ``stun:`` URL."""
        with start_coturn(Path(tempfile.mkdtemp()), self.stun_ip, stun_only=True,
                          netns=self.router_ns) as port:
            yield f"stun:{self.stun_ip}:{port}"
