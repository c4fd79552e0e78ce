"""Limits that hold across a cluster of three real nodes (NATS, one PostgreSQL database, one
storage folder): rlimit viewers through three nodes, a pair room's members and the app's
publication limit under simultaneous WHIP POSTs through three nodes, and places freed when a
publisher leaves and when its node is killed -9."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import offer_without_candidates, record_all_of, wait_for
from livetape_harness.server import LiveServer
from tests.cluster.conftest import NodeFactory, registry

# one publication per node (so simultaneous publishers spread over the nodes), the app's
# limit 2 over the cluster; offers that never connect hold their slot for the whole test
NODE = {"max_publications": 1, "max_publications_per_app": 2, "connect_timeout_seconds": 90,
        "node_heartbeat_seconds": 0.5, "node_dead_seconds": 3, "idle_timeout_seconds": 10}


def node(start_node: NodeFactory, tmp_path: Path, name: str) -> LiveServer:
    """A node whose storage folder is the cluster's one (as ``livetape cluster up`` does)."""
    (tmp_path / "storage").mkdir(exist_ok=True)
    (tmp_path / name).mkdir(parents=True, exist_ok=True)
    (tmp_path / name / "storage").symlink_to(tmp_path / "storage")
    return start_node(name, **NODE)


def get_from(ip: str, url: str) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=ip), timeout=30) as http:
        return http.get(url)


def whip_post(server: LiveServer, room: str, token: str, offer: str) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/rooms/{room}/whip?src_type=camera", content=offer,
                      headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "application/sdp"}, timeout=60)


async def at_once(nodes: list[LiveServer], room: str, tokens: list[str]) -> list[httpx.Response]:
    """One WHIP POST through each node, all at the same moment."""
    offers = [await offer_without_candidates() for _ in tokens]
    return list(await asyncio.gather(*(asyncio.to_thread(whip_post, n, room, t, o)
                                       for n, t, o in zip(nodes, tokens, offers, strict=True))))


def leave(server: LiveServer, answer: httpx.Response) -> None:
    location = answer.headers["location"]
    gone = httpx.delete(f"{server.url}{location}", timeout=30,
                        headers={"Authorization": f"Bearer {server.secret_key}"})
    assert gone.status_code in (200, 204), gone.text


async def admitted_within(server: LiveServer, room: str, token: str,
                          timeout: float) -> tuple[httpx.Response, float]:
    """POST until admitted (each refusal must be the app's limit, or every node seen full
    while the registry still shows a place just freed: one heartbeat late); the answer,
    seconds."""
    started = time.monotonic()
    while True:
        answer = whip_post(server, room, token, await offer_without_candidates())
        if answer.status_code == 201:
            return answer, time.monotonic() - started
        assert answer.status_code == 503 and answer.json()["code"] == 1003, answer.text
        assert answer.json().get("limit") in ("LIVETAPE_MAX_PUBLICATIONS_PER_APP", None), \
            answer.text
        assert time.monotonic() - started < timeout, "the place was not freed"
        await asyncio.sleep(0.2)


async def test_limits_hold_across_nodes(start_node: NodeFactory, tmp_path: Path) -> None:
    a, b, c = nodes = [node(start_node, tmp_path, name) for name in "abc"]
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        # --- rlimit: a recorded file's URL limited to 2 viewer IPs, through three nodes ---
        (_file_id,), _ = await record_all_of(a, api, EncodedMedia.synthetic(2.0), "limited")
        info = await api._call("GET", "/v1/vod/play-info",
                               params={"file_name": "limited", "rlimit": 2})
        url = urlsplit(info["file_set"][0]["play_set"][0]["url"])
        through = [f"{n.url}{url.path}?{url.query}" for n in nodes]
        viewers = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        answers = await asyncio.gather(*(asyncio.to_thread(get_from, ip, link)
                                         for ip, link in zip(viewers, through, strict=True)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [200, 200, 403], codes
        refused = next(r for r in answers if r.status_code == 403)
        assert refused.json()["code"] == 1004 and "2 viewer IP" in refused.json()["message"]
        watching = [ip for ip, r in zip(viewers, answers, strict=True) if r.status_code == 200]
        for link in through:  # an admitted viewer plays on any node; a new one nowhere
            assert get_from(watching[0], link).status_code == 200
            assert get_from("127.0.0.5", link).status_code == 403
        await asyncio.sleep(1)  # the recording's publisher leaves its place (DELETE sent)

        # --- a pair room (2 members): three users at once through three nodes ---
        await api.create_room("pair-1", type="pair")
        tokens = [await api.mint_token(user) for user in ("ann", "bob", "cid")]
        answers = await at_once(nodes, "pair-1", tokens)
        assert sorted(r.status_code for r in answers) == [201, 201, 409], [r.text for r in answers]
        assert next(r for r in answers if r.status_code == 409).json()["code"] == 1002
        members = (await api.get_room("pair-1"))["members"]
        assert len(members) == 2
        for server, answer in zip(nodes, answers, strict=True):
            if answer.status_code == 201:
                leave(server, answer)

        # each node (LIVETAPE_MAX_PUBLICATIONS=1) free again in the registry, so that only
        # the app's limit can refuse below (a loaded host heartbeats late)
        async def all_free() -> bool:
            answer = registry(a)
            return answer.status_code == 200 and all(
                entry["publications"] == 0 for entry in answer.json()["nodes"])

        await wait_for(all_free, timeout=30, interval=0.3)

        # --- the app's limit (2): three publishers at once through three nodes ---
        await api.create_room("room-2")
        tokens = [await api.mint_token(user) for user in ("dee", "eve", "fay")]
        answers = await at_once(nodes, "room-2", tokens)
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [201, 201, 503], [r.text for r in answers]
        full = next(r for r in answers if r.status_code == 503).json()
        assert full["code"] == 1003 and full["limit"] == "LIVETAPE_MAX_PUBLICATIONS_PER_APP"
        placed = [(server, r) for server, r in zip(nodes, answers, strict=True)
                  if r.status_code == 201]

        # a publisher leaves (DELETE through another node): its place is free at once
        server, answer = placed.pop()
        leave(next(n for n in nodes if n is not server), answer)
        gus = await api.mint_token("gus")
        again, waited = await admitted_within(a, "room-2", gus, timeout=10)
        assert waited < 5
        holders = {r.headers["location"].rsplit("/", 1)[-1].split(".")[0]
                   for _, r in [*placed, (a, again)]}
        assert len(holders) == 2  # one per node: the third node is free

        # the node of one of them killed -9: its place is free once its lease ends
        victim = next(n for n in (b, c) if n.data_dir.name in holders)
        victim.kill()
        killed = time.monotonic()
        hal = await api.mint_token("hal")
        await admitted_within(a, "room-2", hal, timeout=30)
        freed = time.monotonic() - killed
        assert freed >= 1  # not before its slot's lease (3 s, renewed every 0.5 s) could end
        print(f"place freed: {waited:.2f} s after a DELETE, {freed:.2f} s after a kill -9")
