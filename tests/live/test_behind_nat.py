"""A server behind 1:1 NAT, publishers behind their own NAT: reachable only through the
announced address and the one shared UDP port (LIVETAPE_ICE_UDP_PORT, LIVETAPE_ICE_PUBLIC_IPS,
LIVETAPE_ICE_DISCOVER_PUBLIC_IP). The network is real: namespaces, veth pairs and nftables
NAT made by the test (livetape_harness.netns); the publishers are real aiortc peers in their
own namespace, and what they published is recorded and decoded.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from livetape.client.api import LivetapeClient
from livetape_harness.flow import download, files_of
from livetape_harness.media_checks import probe
from livetape_harness.netns import NatLab, require_lab
from livetape_harness.server import LiveServer, ServerFactory, free_udp_port, udp_ports_of

PUBLISHERS = 8
RECORD_SECONDS = 5.0


@pytest.fixture
def lab() -> Iterator[NatLab]:
    require_lab()
    for _ in range(5):  # another test's lab may hold the same number
        try:
            made = NatLab().start()
            break
        except RuntimeError as exc:
            if "exists" not in str(exc):
                raise
    else:
        pytest.fail("no free lab number")
    try:
        yield made
    finally:
        made.stop()


def start_crowd(lab: NatLab, server: LiveServer, count: int,
                *extra: str) -> subprocess.Popen[bytes]:
    """``count`` publishers in the publisher's namespace, talking to the public address."""
    url = f"http://{lab.public_ip}:{server.port}"
    # "--": a secret key may begin with "-"
    return lab.popen([sys.executable, "-m", "livetape_harness.crowd", *extra, "--", url,
                      server.secret_key, "lobby", str(count)],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def joined(crowd: subprocess.Popen[bytes], count: int) -> list[dict[str, Any]]:
    """Each publisher's line (user, location, the answer's candidates), once all connected."""
    assert crowd.stdout is not None and crowd.stderr is not None
    lines = []
    for _ in range(count):
        line = await asyncio.wait_for(asyncio.to_thread(crowd.stdout.readline), 60)
        assert line, crowd.stderr.read().decode(errors="replace")[-3000:]
        lines.append(json.loads(line))
    return lines


def leave(crowd: subprocess.Popen[bytes]) -> None:
    if crowd.poll() is None:
        assert crowd.stdin is not None
        crowd.stdin.close()
        try:
            crowd.wait(timeout=20)
        except subprocess.TimeoutExpired:
            crowd.kill()
            crowd.wait()


def candidate_addresses(lines: list[dict[str, Any]]) -> set[tuple[str, int]]:
    found = set()
    for line in lines:
        for candidate in line["answer_candidates"]:
            parts = candidate.split()
            found.add((parts[4], int(parts[5])))
    return found


async def test_publishers_behind_nat_share_one_port_on_the_announced_address(
    start_server: ServerFactory, lab: NatLab, tmp_path: Path
) -> None:
    port = free_udp_port()
    server = start_server(host="0.0.0.0", ice_udp_port=port, ice_public_ips=lab.public_ip,
                          idle_timeout_seconds=30)
    crowd = start_crowd(lab, server, PUBLISHERS)
    try:
        lines = await joined(crowd, PUBLISHERS)
        # the answers offer the public address and the one port, nothing of the host's own
        assert candidate_addresses(lines) == {(lab.public_ip, port)}, lines
        assert server.process is not None
        held = udp_ports_of(server.process.pid)
        assert held and {p for _, p in held} == {port}, held  # no socket of its own for any

        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            room = await api.get_room("lobby")
            states = {m["user_id"]: m["streams"][0]["state"] for m in room["members"]}
            assert states == {f"user-{n}": "connected" for n in range(1, PUBLISHERS + 1)}
            for n in range(1, PUBLISHERS + 1):
                await api.start_recording("lobby", f"nat-{n}", user_id=f"user-{n}")
            await asyncio.sleep(RECORD_SECONDS)
            for n in range(1, PUBLISHERS + 1):
                assert len(await api.stop_recording("lobby", user_id=f"user-{n}")) == 1
            for n in range(1, PUBLISHERS + 1):
                files = await files_of(api, f"nat-{n}")
                path = await download(files[0]["play_set"][0]["url"], tmp_path / f"{n}.mp4")
                info = probe(path)
                assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "opus"
                assert info["duration"] >= RECORD_SECONDS - 2.0, (n, info)
                assert info["video"]["frames"] >= 25 * (RECORD_SECONDS - 2.0), (n, info)
    finally:
        leave(crowd)


async def test_without_the_announced_address_nobody_behind_nat_connects(
    start_server: ServerFactory, lab: NatLab
) -> None:
    """The control: the same network, the host's own addresses in the answer. The offer is
    answered (HTTP crosses the NAT) but ICE cannot: the lab is as closed as the internet."""
    server = start_server(host="0.0.0.0", ice_udp_port=free_udp_port())
    crowd = start_crowd(lab, server, 1)
    try:
        assert crowd.wait(timeout=60) != 0
        assert crowd.stderr is not None
        assert "Timeout" in crowd.stderr.read().decode(errors="replace")
    finally:
        leave(crowd)


async def test_the_public_address_is_learned_from_stun(
    start_server: ServerFactory, lab: NatLab
) -> None:
    with lab.stun_server() as stun_url:
        port = free_udp_port()
        server = start_server(host="0.0.0.0", ice_udp_port=port, stun_urls=stun_url,
                              ice_discover_public_ip="true")
    assert f"public address {lab.public_ip} (learned from {stun_url})" in server.log_text()
    crowd = start_crowd(lab, server, 1)
    try:
        lines = await joined(crowd, 1)
        assert candidate_addresses(lines) == {(lab.public_ip, port)}
    finally:
        leave(crowd)
