"""Cluster mode's start-up checks: SQLite is refused in one line; a default node id."""

from __future__ import annotations

from pathlib import Path

from livetape.config import Settings
from livetape_harness.server import serve_once


def test_a_cluster_on_sqlite_is_refused_at_start_up(tmp_path: Path) -> None:
    done = serve_once(tmp_path, LIVETAPE_NATS_URL="nats://127.0.0.1:4222")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "Error: bad settings:" in done.stderr
    line = next(x for x in done.stderr.splitlines() if "LIVETAPE_NATS_URL" in x)
    assert "PostgreSQL" in line and "LIVETAPE_DATABASE_URL=postgresql://" in line


def test_a_bad_node_id_is_refused_and_the_default_names_host_and_port(tmp_path: Path) -> None:
    done = serve_once(tmp_path, LIVETAPE_NODE_ID="a b")
    assert done.returncode != 0 and "LIVETAPE_NODE_ID" in done.stderr
    assert Settings(port=8123).resolved_node_id().endswith("-8123")
