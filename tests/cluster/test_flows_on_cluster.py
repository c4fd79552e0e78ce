"""The core single-node flows, run again unchanged against a three-node cluster: the same test
functions (imported below, so they are collected here too) get this module's ``server`` /
``start_server`` / ``api``, which hand them node a of one cluster shared by the module.
Node a takes no publishers (LIVETAPE_MAX_PUBLICATIONS=0): every WHIP POST through it lands
on b or c, every API call goes to a, files land in the one shared storage folder and play from
a. (Not S3 here: a file plays from its recording node's spool until its upload ends, and
another node answers 404 for that moment: README, "Running a cluster".) Each test gets an
app of its own (rooms and files are per app), so they do not meet.

Flows: record start/stop/land/decode with play-info (A/V sync, frame counts), media URL
serving (ranges, HEAD, caching), rooms (lifecycle, leaving and closing end recordings on
another node), WHIP edges (bad offers, a second camera across nodes).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from livetape.client.api import LivetapeClient
from livetape_harness.cluster import LocalCluster
from livetape_harness.server import LiveServer, ServerFactory
from tests.recording.test_recording import (  # noqa: F401  (collected here, on the cluster)
    test_play_url_serves_ranges_and_heads,
    test_publish_record_stop_play,
)
from tests.rooms.test_rooms import (  # noqa: F401
    test_leaving_ends_the_recording_and_closing_the_room_too,
    test_room_lifecycle,
    test_whip_edges,
)

POSTGRES_URL = os.environ.get("LIVETAPE_TEST_POSTGRES_URL")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if not POSTGRES_URL:
        pytest.skip("cluster tests need PostgreSQL: set LIVETAPE_TEST_POSTGRES_URL")
    nodes: dict[str, dict[str, object]] = {"a": {"max_publications": 0}, "b": {}, "c": {}}
    started = LocalCluster(tmp_path_factory.mktemp("cluster"), POSTGRES_URL, nodes,
                           common={"idle_timeout_seconds": 5}).start()
    yield started
    started.stop()


@pytest.fixture
def backend() -> str:
    return "postgres"  # the cluster's (replaces the sqlite/postgres parameter)


@pytest.fixture
def start_server(cluster: LocalCluster) -> ServerFactory:
    """Node a, as a new app sees it (the single-node tests' ``start_server(backend)``)."""

    def start(backend: str = "postgres", **settings: object) -> LiveServer:
        assert not settings, f"a shared cluster takes no per-test settings: {settings}"
        a = cluster["a"]
        app_id, secret_key = a.create_app(f"flow-{os.urandom(4).hex()}")
        return dataclasses.replace(a, app_id=app_id, secret_key=secret_key)

    return start


@pytest.fixture
def server(start_server: ServerFactory) -> LiveServer:
    return start_server()


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[LivetapeClient]:
    async with LivetapeClient(server.url, secret_key=server.secret_key) as client:
        yield client
