"""Fixtures: real servers (SQLite or PostgreSQL), SDK clients, and generated media."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from livetape.client.api import LivetapeClient
from livetape.db.session import Database
from livetape_harness.seaweed import SeaweedS3
from livetape_harness.server import (
    LiveServer,
    ServerFactory,
    create_postgres_database,
    drop_postgres_database,
)

POSTGRES_URL = os.environ.get("LIVETAPE_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("LIVETAPE_TEST_REQUIRE_POSTGRES") == "1"



@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Runs a test once per database engine."""
    if request.param == "postgres" and not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("LIVETAPE_TEST_REQUIRE_POSTGRES=1 but LIVETAPE_TEST_POSTGRES_URL is unset")
        pytest.skip(
            "PostgreSQL tests SKIPPED: set LIVETAPE_TEST_POSTGRES_URL="
            "postgresql://postgres@127.0.0.1:5432/postgres to run them (CI does)"
        )
    return str(request.param)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """start_server(backend="sqlite", **settings) -> a running LiveServer.

    ``settings`` are livetape settings by field name (segment_seconds=3 ->
    LIVETAPE_SEGMENT_SECONDS=3).
    """
    servers: list[LiveServer] = []
    databases: list[str] = []

    def start(backend: str = "sqlite", **settings: object) -> LiveServer:
        database_url = None
        if backend == "postgres":
            assert POSTGRES_URL
            database_url = create_postgres_database(POSTGRES_URL)
            databases.append(database_url)
        host = str(settings.pop("host", "127.0.0.1"))  # the serve flag, not the setting
        env = {f"LIVETAPE_{k.upper()}": str(v) for k, v in settings.items()}
        server = LiveServer(tmp_path / f"server{len(servers)}", database_url, env, host=host)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
    for url in databases:
        assert POSTGRES_URL
        drop_postgres_database(POSTGRES_URL, url)


@pytest.fixture
def server(start_server: ServerFactory) -> LiveServer:
    """A default server on SQLite with short limits."""
    return start_server(idle_timeout_seconds=5)


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[LivetapeClient]:
    async with LivetapeClient(server.url, secret_key=server.secret_key) as client:
        yield client


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A started (migrated) livetape database, no server: a SQLite file in ``tmp_path``, or a
    fresh PostgreSQL database (dropped after), once per engine as ``backend`` says."""
    url = f"sqlite:///{tmp_path / 'livetape.db'}"
    if backend == "postgres":
        assert POSTGRES_URL
        url = create_postgres_database(POSTGRES_URL)
    db = Database(url)
    await db.start()
    try:
        yield db
    finally:
        await db.stop()
        if backend == "postgres":
            assert POSTGRES_URL
            drop_postgres_database(POSTGRES_URL, url)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """SeaweedFS as a real S3 server, started once per test process (~4 s); tests keep
    apart by key prefix (:func:`s3_prefix`)."""
    store = SeaweedS3(tmp_path_factory.mktemp("seaweed")).start()
    yield store
    store.kill()  # its data goes with the temp folder: no need to wait for a clean stop


@pytest.fixture
def s3_prefix() -> str:
    """A key prefix of the test's own in the shared bucket."""
    return f"t-{uuid.uuid4().hex[:12]}"
