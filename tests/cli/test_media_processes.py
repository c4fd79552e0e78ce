"""``livetape serve --media-processes 2`` (LIVETAPE_MEDIA_PROCESSES) on SQLite, with its private
nats-server: publishers spread over both media processes, recordings through the one HTTP port
land decodable files from both (also from a media process killed with -9 mid-recording, which
is started again), each process has its own ICE UDP port with the receive buffer
asked for, the drops counters read, and kill -9 of the server leaves no child behind."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import av
import httpx
from prometheus_client.parser import text_string_to_metric_families

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape.config import Settings
from livetape.medianode.media_layout import media_node_ids, media_settings
from livetape_harness.flow import download, files_of, wait_for
from livetape_harness.server import LiveServer, serve_once, udp_ports_of

OPERATOR_KEY = "operator-key-of-the-media-process-test"
ROOM = "room-1"
BUFFER = 1024 * 1024


def two_free_udp_ports() -> int:
    """A port P with P and P + 1 free on every address now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind(("0.0.0.0", 0))
            port: int = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                try:
                    second.bind(("0.0.0.0", port + 1))
                except OSError:
                    continue
                return port
    raise AssertionError("no two consecutive free UDP ports")


def nodes(server: LiveServer) -> list[dict[str, object]]:
    answer = httpx.get(f"{server.url}/v1/operator/cluster/nodes", timeout=30,
                       headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, object]] = answer.json()["nodes"]
    return found


def node_of(publisher: WhipPublisher) -> str:
    assert publisher.location is not None
    return publisher.location.rsplit("/", 1)[-1].split(".", 1)[0]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    return state != "Z"  # a zombie is gone, only not yet reaped by its (dead) parent


async def test_two_media_processes(tmp_path: Path) -> None:
    port = two_free_udp_ports()
    server = LiveServer(tmp_path / "server", env={
        "LIVETAPE_MEDIA_PROCESSES": "2", "LIVETAPE_ICE_UDP_PORT": str(port),
        "LIVETAPE_UDP_RECEIVE_BUFFER_BYTES": str(BUFFER), "LIVETAPE_OPERATOR_KEY": OPERATOR_KEY,
        "LIVETAPE_JOB_WORKERS": "0", "LIVETAPE_PREROLL_SECONDS": "2"})
    try:
        server.start()
        assert server.process is not None
        await wait_for(lambda: _listed(server, 2), timeout=30)
        parent, child = sorted(str(n["node_id"]) for n in nodes(server))
        assert child == f"{parent}-m1"
        children = server.children()
        media_child = next(pid for pid in children
                           if b"media-node" in Path(f"/proc/{pid}/cmdline").read_bytes())
        # each media process on its own port of the host; the server's buffer as asked
        assert port in {p for _, p in udp_ports_of(server.process.pid)}
        assert port + 1 in {p for _, p in udp_ports_of(media_child)}
        health = httpx.get(f"{server.url}/healthz", timeout=10).json()
        assert health["media"]["udp_receive_buffer_bytes"] >= BUFFER  # getsockopt: doubled
        assert isinstance(health["media"]["udp_drops"], int)
        assert all(isinstance(n["udp_drops"], int) for n in nodes(server))

        media = EncodedMedia.synthetic(3.0)
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            await api.create_room(ROOM)
            publishers = {}
            for user in ("alice", "bob"):
                publisher = WhipPublisher(api.whip_url(ROOM, "camera"),
                                          await api.mint_token(user), media, loop=True)
                await publisher.start()
                publishers[user] = publisher
            assert {node_of(p) for p in publishers.values()} == {parent, child}
            for user in publishers:
                await api.start_recording(ROOM, f"rec-{user}", user_id=user)
            await wait_for(lambda: _listed(server, 2, publications=1), timeout=30)
            await wait_for(lambda: _written(api), timeout=30)
            await asyncio.sleep(2)  # a few fragments on disk
            # /metrics counts both media processes (the media-only one's over NATS)
            metrics = {(m.name, tuple(sorted(m.labels.items()))): m.value
                       for family in text_string_to_metric_families(
                           httpx.get(f"{server.url}/metrics", timeout=10).text)
                       for m in family.samples}
            assert metrics[("livetape_live_publications", ())] == 2
            assert metrics[("livetape_active_recordings", ())] == 2
            assert metrics[("livetape_rtp_packets_received_total", ())] > 0

            # kill -9 of the media process: it is started again; the recording it ran still
            # lands what reached the disk when it is stopped
            began = _started_at(server, child)
            os.kill(media_child, signal.SIGKILL)
            await wait_for(lambda: _restarted(server, child, began), timeout=30)
            for user, publisher in publishers.items():
                file_ids = await api.stop_recording(ROOM, user_id=user)
                assert file_ids, user
                await publisher.stop()
                files = await files_of(api, f"rec-{user}")
                got = await download(files[0]["play_set"][0]["url"], tmp_path / f"{user}.mp4")
                with av.open(str(got)) as container:  # a real MP4 that decodes
                    assert sum(1 for _ in container.decode(video=0)) > 10

        children = server.children()
        server.kill()  # kill -9: the media process and the private NATS go too
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if alive(pid)]
    finally:
        server.stop()


async def _listed(server: LiveServer, count: int, publications: int = 0) -> bool:
    found = nodes(server)
    return len(found) == count and all(int(str(n["publications"])) >= publications
                                       for n in found)


def _started_at(server: LiveServer, node_id: str) -> object:
    return next(n["started_at"] for n in nodes(server) if n["node_id"] == node_id)


async def _restarted(server: LiveServer, node_id: str, began: object) -> bool:
    """A new process serves ``node_id`` (its registry entry is a new one)."""
    return _started_at(server, node_id) != began


async def _written(api: LivetapeClient) -> bool:
    """Every running recording wrote video."""
    answer = await api._call("GET", "/v1/recordings")
    running = answer.get("recordings", [])
    views = [await api.get_recording(r["recording_id"]) for r in running]
    return len(views) == 2 and all(int(v.get("written", {}).get("video", 0)) > 0
                                   for v in views)


def test_port_slices_and_names() -> None:
    """Each media process's own ports and node id (the server is process 0)."""
    settings = Settings(node_id="box", media_processes=3, ice_udp_ports=(50000, 50010))
    assert [media_settings(settings, i).ice_udp_ports for i in range(3)] == [
        (50000, 50002), (50003, 50005), (50006, 50010)]
    assert media_node_ids(settings) == ["box-m1", "box-m2"]
    shared = Settings(node_id="box", media_processes=2, ice_udp_port=7881)
    assert [media_settings(shared, i).ice_udp_port for i in range(2)] == [7881, 7882]
    assert media_settings(shared, 1).node_id == "box-m1"


def test_a_range_too_small_stops_start_up(tmp_path: Path) -> None:
    done = serve_once(tmp_path, LIVETAPE_MEDIA_PROCESSES="3", LIVETAPE_ICE_UDP_PORTS="50000-50001")
    assert done.returncode != 0
    assert "fewer ports than LIVETAPE_MEDIA_PROCESSES (3)" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
