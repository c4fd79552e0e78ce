"""The CLI as a script would use it: JSON out, exit 1 with the error body on failures."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from livetape.client.media import EncodedMedia
from livetape_harness.flow import publishing
from livetape_harness.server import LiveServer, ServerFactory


async def run_cli(server: LiveServer, *args: str) -> tuple[int, dict[str, object]]:
    env = {**os.environ, "LIVETAPE_URL": server.url, "LIVETAPE_SECRET_KEY": server.secret_key}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "livetape", *args],
        env=env, capture_output=True, timeout=60,
    )
    return done.returncode, json.loads(done.stdout)


async def test_record_and_play_info_commands(start_server: ServerFactory) -> None:
    # each CLI run starts a Python process (seconds on a busy host): the recording must not
    # end by itself (idle) between the media's end and the stop command
    server = start_server(idle_timeout_seconds=60)
    media = EncodedMedia.synthetic(4.0)
    async with publishing(server, media) as publisher:
        code, started = await run_cli(server, "record", "start", "--room", "room-1",
                                      "--user", "alice", "--file-name", "cli-take",
                                      "--tag", "a", "--tag", "b")
        assert code == 0 and str(started["recording_id"]).startswith("rec_")
        code, again = await run_cli(server, "record", "start", "--room", "room-1",
                                    "--user", "alice", "--file-name", "cli-take")
        assert code == 1 and again["code"] == 30000415 and again["hint"]
        await publisher.wait_done()
        code, stopped = await run_cli(server, "record", "stop", "--room", "room-1",
                                      "--user", "alice")
        assert code == 0
        file_ids = stopped["file_ids"]
        assert isinstance(file_ids, list) and len(file_ids) == 1
    code, info = await run_cli(server, "vod", "play-info", "cli-")
    assert code == 0 and info["total_count"] == 1
    entry = info["file_set"][0]  # type: ignore[index]
    assert entry["file_id"] == file_ids[0] and entry["tags"] == ["a", "b"]
    assert entry["play_set"][0]["url"].startswith(server.url)
