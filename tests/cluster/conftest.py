"""A cluster for tests: a real nats-server (PyPI's 2.15), one PostgreSQL database shared by
real ``livetape serve`` nodes, the operator key to read the registry over HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness.nats import NatsServer
from livetape_harness.seaweed import SeaweedS3
from livetape_harness.server import LiveServer, create_postgres_database, drop_postgres_database

POSTGRES_URL = os.environ.get("LIVETAPE_TEST_POSTGRES_URL")
OPERATOR_KEY = "operator-key-of-the-cluster-tests"

NodeFactory = Callable[..., LiveServer]


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
def cluster_db() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("cluster tests need PostgreSQL: set LIVETAPE_TEST_POSTGRES_URL="
                    "postgresql://postgres@127.0.0.1:5432/postgres")
    url = create_postgres_database(POSTGRES_URL)
    yield url
    drop_postgres_database(POSTGRES_URL, url)


@pytest.fixture
def start_node(tmp_path: Path, nats_server: NatsServer, cluster_db: str
               ) -> Iterator[NodeFactory]:
    """start_node("a", **settings) -> a running node of the cluster (settings by field name);
    the first node creates the test app, the others share it."""
    nodes: list[LiveServer] = []

    def start(name: str, **settings: object) -> LiveServer:
        env = {"LIVETAPE_NATS_URL": nats_server.url, "LIVETAPE_NODE_ID": name,
               "LIVETAPE_OPERATOR_KEY": OPERATOR_KEY,
               **{f"LIVETAPE_{k.upper()}": str(v) for k, v in settings.items()}}
        node = LiveServer(tmp_path / name, cluster_db, env)
        if nodes:
            node.app_id, node.secret_key = nodes[0].app_id, nodes[0].secret_key
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        node.stop()


def registry(node: LiveServer, path: str = "") -> httpx.Response:
    """GET the node's view of the registry (the operator API)."""
    return httpx.get(f"{node.url}/v1/operator/cluster/nodes{path}", timeout=30,
                     headers={"Authorization": f"Bearer {OPERATOR_KEY}"})


def node_ids(node: LiveServer) -> list[str]:
    answer = registry(node)
    assert answer.status_code == 200, answer.text
    return [entry["node_id"] for entry in answer.json()["nodes"]]


def on_seaweed(seaweed: SeaweedS3, s3_prefix: str, monkeypatch: pytest.MonkeyPatch,
               **settings: object) -> dict[str, object]:
    """Node settings (``settings`` and the shared S3 store) for nodes that share SeaweedFS;
    the nodes' AWS variables are set for the test."""
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    return {**settings, "storage_url": seaweed.storage_url(s3_prefix)}


async def publish_on(node: LiveServer, room: str, user: str = "alice") -> WhipPublisher:
    """``user`` publishing a looped synthetic camera into ``room`` (made here) through
    ``node``, connected (start the other nodes afterwards: the publisher lands on it)."""
    async with LivetapeClient(node.url, secret_key=node.secret_key) as api:
        await api.create_room(room)
        token = await api.mint_token(user)
        publisher = WhipPublisher(api.whip_url(room, "camera"), token,
                                  EncodedMedia.synthetic(4.0), loop=True)
        await publisher.start()
    return publisher
