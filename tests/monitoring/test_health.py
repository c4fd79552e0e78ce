"""/healthz and /readyz as a load balancer uses them: ready while the database and the
storage answer; 503 naming the database while PostgreSQL refuses the server's connections
(the database is closed to connections and the server's sessions are ended, for real), ready
again once it takes them, without a restart."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from livetape.client.media import EncodedMedia
from livetape_harness.flow import publishing, wait_for
from livetape_harness.server import ServerFactory
from tests.conftest import POSTGRES_URL


def admin(sql: str) -> None:
    assert POSTGRES_URL
    conninfo = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)


async def test_ready_until_the_database_is_away(start_server: ServerFactory,
                                                backend: str) -> None:
    if backend != "postgres":
        pytest.skip("the fault is PostgreSQL refusing connections")
    server = start_server(backend="postgres", ready_timeout_seconds=2)
    assert server.database_url
    name = make_url(server.database_url).database
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        alive = await http.get("/healthz")
        assert alive.status_code == 200 and alive.json()["status"] == "ok"
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"ready": True, "checks": {
            "database": {"ok": True, "detail": ""}, "storage": {"ok": True, "detail": ""},
            "publishers": {"ok": True, "detail": ""}}}
        admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        try:
            async def refused() -> httpx.Response | None:
                answer = await http.get("/readyz")
                return answer if answer.status_code == 503 else None

            down = await wait_for(refused, timeout=30, interval=0.5)
            checks = down.json()["checks"]
            assert not checks["database"]["ok"] and checks["database"]["detail"]
            assert checks["storage"]["ok"]
            assert (await http.get("/healthz")).status_code == 200  # alive all the same
        finally:
            admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        async def ready_again() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await wait_for(ready_again, timeout=30, interval=0.5)


async def test_a_full_node_is_not_ready(start_server: ServerFactory) -> None:
    """At LIVETAPE_MAX_PUBLICATIONS it takes no publisher, so it is not ready for them."""
    server = start_server(max_publications=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        async with publishing(server, EncodedMedia.synthetic(2.0), loop=True):
            answer = await http.get("/readyz")
        assert answer.status_code == 503
        checks = answer.json()["checks"]
        assert checks["database"]["ok"] and checks["storage"]["ok"]
        assert not checks["publishers"]["ok"]
        assert "LIVETAPE_MAX_PUBLICATIONS" in checks["publishers"]["detail"]

        async def ready_again() -> bool:  # the publisher left
            return (await http.get("/readyz")).status_code == 200

        await wait_for(ready_again, timeout=30, interval=0.5)
