"""The serving benchmark's "livetape -> S3 redirect" row: a livetape process on SeaweedFS.

SeaweedFS (``livetape_harness.seaweed.SeaweedS3``: one ``weed server`` process with its S3
gateway) runs under the work dir; a livetape process uses it as its storage
(``LIVETAPE_STORAGE_URL``, the AWS variables in its environment), the clip is put in that
library through the library's API (a multipart upload to the bucket), and the row's play URL
answers 302 to a presigned URL after livetape's checks. The load client follows it like a
player (:mod:`redirect_client`). CPU is counted for livetape's process and SeaweedFS's apart.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from library_file import serve_clip
from livetape_harness.seaweed import SeaweedS3
from livetape_harness.server import LiveServer
from procfs import proc_cpu_seconds
from rangeload import Target

S3_ROW = "lt->S3"


@dataclass
class S3Row:
    """SeaweedFS + a livetape on it; :meth:`start` returns the row's :class:`Target`."""

    work: Path
    seaweed: SeaweedS3 = field(init=False)
    server: LiveServer = field(init=False)

    def __post_init__(self) -> None:
        self.seaweed = SeaweedS3(self.work / "seaweed", bucket="bench-serve")
        self.server = LiveServer(self.work / "livetape-s3", env={
            **self.seaweed.env, "LIVETAPE_STORAGE_URL": self.seaweed.storage_url()})

    async def start(self, clip: Path) -> Target:
        await asyncio.to_thread(self.seaweed.start)
        os.environ.update(self.seaweed.env)  # the library's upload, in this process, too
        play = await serve_clip(self.server, clip)
        assert self.server.process is not None and self.seaweed.process is not None
        lt_pid, weed_pid = self.server.process.pid, self.seaweed.process.pid
        return Target(S3_ROW, play, {"livetape": lambda: proc_cpu_seconds(lt_pid),
                                     "S3": lambda: proc_cpu_seconds(weed_pid)}, follow=True)

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)
        await asyncio.to_thread(self.seaweed.stop)
