"""A whole cluster for tests that share one (module-scoped fixtures): a real nats-server
(PyPI's), a fresh PostgreSQL database, real ``livetape serve`` nodes, and shared storage
(one folder, as ``livetape cluster up`` without S3, or a SeaweedFS bucket).

``LocalCluster(work, postgres_url, nodes={"a": {...}, "b": {}, "c": {}}).start()``: settings
by field name, per node, on top of ``common``. The first node creates the test app; the
others share it. :meth:`stop` stops everything it started (only those processes).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from livetape_harness.nats import NatsServer
from livetape_harness.seaweed import SeaweedS3
from livetape_harness.server import LiveServer, create_postgres_database, drop_postgres_database

OPERATOR_KEY = "operator-key-of-the-cluster-tests"


@dataclass
class LocalCluster:
    work: Path
    postgres_url: str
    nodes: dict[str, dict[str, object]]
    common: dict[str, object] = field(default_factory=dict)
    s3: bool = False  # SeaweedFS for storage (else one shared folder)
    nats: NatsServer | None = None
    seaweed: SeaweedS3 | None = None
    database_url: str = ""
    servers: dict[str, LiveServer] = field(default_factory=dict)

    def __getitem__(self, name: str) -> LiveServer:
        return self.servers[name]

    def env_of(self, name: str) -> dict[str, str]:
        assert self.nats is not None
        env = {"LIVETAPE_NATS_URL": self.nats.url, "LIVETAPE_NODE_ID": name,
               "LIVETAPE_OPERATOR_KEY": OPERATOR_KEY}
        if self.seaweed is not None:
            env |= {"LIVETAPE_STORAGE_URL": self.seaweed.storage_url("cluster"),
                    **self.seaweed.env}
        settings = {**self.common, **self.nodes[name]}
        return env | {f"LIVETAPE_{k.upper()}": str(v) for k, v in settings.items()}

    def start(self) -> LocalCluster:
        try:
            self.nats = NatsServer(self.work / "nats").start()
            if self.s3:
                self.seaweed = SeaweedS3(self.work / "seaweed").start()
            self.database_url = create_postgres_database(self.postgres_url)
            shared = self.work / "storage"
            shared.mkdir(parents=True, exist_ok=True)
            first, *others = self.nodes
            self.start_node(first, shared)  # makes the test app the others share
            with ThreadPoolExecutor(len(others) or 1) as pool:  # the others start together
                for started in [pool.submit(self.start_node, name, shared) for name in others]:
                    started.result()
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, name: str, shared: Path) -> LiveServer:
        folder = self.work / name
        folder.mkdir(parents=True, exist_ok=True)
        if self.seaweed is None and not (folder / "storage").exists():
            (folder / "storage").symlink_to(shared)
        # a start took ~20 s on a 2-core machine shared with other suites
        server = LiveServer(folder, self.database_url, self.env_of(name), start_seconds=90)
        if self.servers:
            first = next(iter(self.servers.values()))
            server.app_id, server.secret_key = first.app_id, first.secret_key
        self.servers[name] = server
        return server.start()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        if self.database_url:
            drop_postgres_database(self.postgres_url, self.database_url)
            self.database_url = ""
        if self.seaweed is not None:
            self.seaweed.stop()
        if self.nats is not None:
            self.nats.stop()
