"""A media node killed with -9 mid-recording (three real nodes, one PostgreSQL database, a
real NATS, SeaweedFS as the shared S3 storage): a survivor finalizes its recording from the
chunks that reached the store (``node_lost``), the file holds all but ~2 s of what was sent,
a stop through the node that started it answers 30000413 with the file, nothing stays
listed as recording; the publisher comes back through node a, lands on a survivor and
continues the same recording in a second file, the gap reported."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path
from typing import Any

import av
import pytest

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.publisher import WhipPublisher
from livetape_harness.flow import download, files_of, wait_for
from livetape_harness.seaweed import SeaweedS3
from tests.cluster.conftest import NodeFactory, node_ids, on_seaweed, publish_on

ROOM = "room-1"
DEAD_SECONDS = 3
RECORDED_SECONDS = 9.0  # sent to the recording before node b is killed
NODE = {"node_dead_seconds": DEAD_SECONDS, "node_heartbeat_seconds": 1,
        "node_timeout_seconds": 3, "preroll_seconds": 2, "disconnect_grace_seconds": 3,
        "idle_timeout_seconds": 20}


def _decoded(path: Path) -> tuple[float, int]:
    """The file's duration (its video, seconds) and its decoded video frames."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = [f for f in container.decode(video)]
    assert frames, path
    duration = float((frames[-1].pts - frames[0].pts) * video.time_base) + 1 / 30
    return duration, len(frames)


def _start_offset(log: str, recording_id: str) -> float:
    """When the recording's first key frame arrived, from its request (negative: before
    it, from the pre-roll), as node b logged it."""
    found = re.search(rf"{recording_id}: starts at key frame ts=\d+ \(received ([-+][\d.]+) s",
                      log)
    assert found, "node b did not log the recording's start"
    return float(found.group(1))


async def _url(api: LivetapeClient, file_id: str, name: str = "death") -> str:
    """The play URL of one of the recording's files."""
    files = {f["file_id"]: f for f in await files_of(api, name)}
    url: str = files[file_id]["play_set"][0]["url"]
    return url


async def _state(api: LivetapeClient, recording_id: str) -> dict[str, Any]:
    return await api.get_recording(recording_id)


@pytest.mark.timeout(400)  # three nodes and SeaweedFS on a loaded 2-core host
async def test_node_death_loses_two_seconds_at_most_and_the_publisher_resumes(
    start_node: NodeFactory, seaweed: SeaweedS3, s3_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = on_seaweed(seaweed, s3_prefix, monkeypatch, **NODE)
    b = start_node("b", **shared)  # alone: the publisher lands on it
    first = await publish_on(b, ROOM)
    media = first.media
    assert first.location is not None
    # started while the publisher sends (in threads: this loop runs the publisher)
    a = await asyncio.to_thread(start_node, "a", **shared)
    await asyncio.to_thread(start_node, "c", **shared)
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        recording_id = await api.start_recording(ROOM, "death", user_id="alice")
        requested = time.monotonic()
        await asyncio.sleep(RECORDED_SECONDS)
        b.kill()  # kill -9 of the node that records
        killed = time.monotonic()
        await first.vanish()

        # a stop through a (which started it), sent at once: it waits for the survivor's
        # reap (the node's registry entry expires first), then answers 30000413, the file
        with pytest.raises(ApiError) as stopped:
            await api.stop_recording(ROOM, user_id="alice")
        to_ended = time.monotonic() - killed
        assert stopped.value.code == 30000413, stopped.value
        assert stopped.value.body["end_reason"] == "node_lost"
        state = await _state(api, recording_id)
        assert (state["state"], state["end_reason"]) == ("ended", "node_lost"), state
        assert len(state["file_ids"]) == 1, state
        assert stopped.value.body["file_ids"] == state["file_ids"]
        assert (await api._call("GET", "/v1/recordings"))["recordings"] == []
        with pytest.raises(ApiError) as again:  # and again, now at once
            await api.stop_recording(ROOM, user_id="alice")
        assert (again.value.code, again.value.body["file_ids"]) == (30000413, state["file_ids"])

        got = await download(await _url(api, state["file_ids"][0]), tmp_path / "lost.mp4")
        duration, frames = _decoded(got)
        sent = killed - requested - _start_offset(b.log_text(), recording_id)
        lost = sent - duration
        print(f"NODE-DEATH sent {sent:.2f} s, file {duration:.2f} s ({frames} frames), "
              f"lost {lost:.2f} s, kill -> ended {to_ended:.2f} s")
        assert lost <= 2.0, (sent, duration)
        assert frames > 30 * (RECORDED_SECONDS - 3)

        # the publisher comes back (through a): the same recording continues in a new file
        token = await api.mint_token("alice")
        second = WhipPublisher(api.whip_url(ROOM, "camera"), token, media, loop=True)
        await second.start()
        assert second.location is not None
        assert second.location.rsplit("/", 1)[-1].split(".", 1)[0] in ("a", "c")

        async def resumed() -> dict[str, Any] | None:
            running = (await api._call("GET", "/v1/recordings"))["recordings"]
            return running[0] if running and running[0].get("segment", 0) > 1 else None

        progress = await wait_for(resumed, timeout=30)
        assert progress["recording_id"] == recording_id
        assert progress["segment"] == 2  # the numbers continue
        await asyncio.sleep(3)
        file_ids = await api.stop_recording(ROOM, user_id="alice")
        await second.stop()
        state = await _state(api, recording_id)
        assert (state["state"], state["end_reason"]) == ("ended", "stopped")
        assert file_ids == state["file_ids"] and len(file_ids) == 2
        [gap] = state["gaps"]
        assert gap["seconds"] > 0 and gap["from"] < gap["to"]
        got = await download(await _url(api, file_ids[1]), tmp_path / "resumed.mp4")
        duration, frames = _decoded(got)
        assert duration > 1.5 and frames > 45


@pytest.mark.timeout(400)
async def test_a_node_cut_off_and_back_still_lands_its_files(
    start_node: NodeFactory, seaweed: SeaweedS3, s3_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Node b frozen (SIGSTOP) past the dead-node time: a survivor finalizes what reached the
    store; b thawed (SIGCONT) finds its publisher silent, closes its file, and that file lands
    too, as a further file of the same recording: nothing b wrote is dropped."""
    shared = on_seaweed(seaweed, s3_prefix, monkeypatch, **NODE)
    b = start_node("b", **shared)
    publisher = await publish_on(b, ROOM)
    a = await asyncio.to_thread(start_node, "a", **shared)
    assert b.process is not None
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        recording_id = await api.start_recording(ROOM, "cut", user_id="alice")
        await asyncio.sleep(5)
        b.process.send_signal(signal.SIGSTOP)
        try:
            async def reaped() -> dict[str, Any] | None:
                state = await _state(api, recording_id)
                return state if state["state"] == "ended" else None

            state = await wait_for(reaped, timeout=DEAD_SECONDS + 40)
            assert (state["end_reason"], len(state["file_ids"])) == ("node_lost", 1), state
            await publisher.vanish()
        finally:
            b.process.send_signal(signal.SIGCONT)

        async def landed_late() -> dict[str, Any] | None:
            state = await _state(api, recording_id)
            return state if len(state["file_ids"]) == 2 else None

        state = await wait_for(landed_late, timeout=60)
        assert (state["state"], state["end_reason"]) == ("ended", "node_lost")
        files = {f["file_id"]: f for f in await files_of(api, "cut")}
        reaped_file, late_file = (files[f] for f in state["file_ids"])
        assert late_file["duration"] >= reaped_file["duration"] > 2, (reaped_file, late_file)


@pytest.mark.timeout(300)
async def test_a_node_that_misses_its_heartbeats_but_answers_keeps_its_recording(
    start_node: NodeFactory, seaweed: SeaweedS3, s3_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Heartbeats lost (a starved host, a slow NATS) are not a death: a survivor asks the
    node before reaping it, and a node that answers keeps recording, to the end."""
    fast = on_seaweed(seaweed, s3_prefix, monkeypatch, node_dead_seconds=DEAD_SECONDS,
                      node_heartbeat_seconds=1, node_timeout_seconds=3)
    b = start_node("b", test_node_fault="silent-after:12", **fast)
    publisher = await publish_on(b, ROOM)
    a = await asyncio.to_thread(start_node, "a", **fast)
    try:
        async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
            recording_id = await api.start_recording(ROOM, "silent", user_id="alice")
            await wait_for(lambda: asyncio.to_thread(lambda: "b" not in node_ids(a)),
                           timeout=60)  # b's entry expired: it looks dead to a
            await asyncio.sleep(3 * DEAD_SECONDS)  # a few of a's sweeps
            state = await _state(api, recording_id)
            assert (state["state"], state["end_reason"]) == ("recording", None), state
            assert "answers: its recordings stay with it" in a.log_text()
            [file_id] = await api.stop_recording(ROOM, user_id="alice")
    finally:
        await publisher.stop()
    async with LivetapeClient(a.url, secret_key=a.secret_key) as api:
        state = await _state(api, recording_id)
        assert (state["state"], state["end_reason"]) == ("ended", "stopped"), state
        got = await download(await _url(api, file_id, "silent"), tmp_path / "silent.mp4")
    duration, _ = _decoded(got)
    assert duration >= 3 * DEAD_SECONDS  # recorded through the silence, not cut at it
