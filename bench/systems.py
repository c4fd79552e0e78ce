"""One benchmark run per (system, N): livetape, Janus (C reference), aiortc MediaRecorder.

Every run starts a fresh server process and fresh generator workers, publishes N looping
streams over WHIP, lets them settle, measures a steady-state window (server CPU from
/proc/<pid>/stat, generator CPU, host load), then silences the publishers (they stay
connected), lets the last frames land, reads what the server received, stops the recordings
and counts the video frames in what was written, demuxing only.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from janus_ref import JanusRef, proc_cpu_seconds, proc_status_bytes, recorded_frames
from livetape.client.api import ApiError, LivetapeClient
from livetape_harness.server import LiveServer, free_udp_port
from loadgen import LoadGen
from measure import Mp4Count, Row, Window, count_mp4, measure_window, udp_receive_drops
from mediarecorder_ref import MediaRecorderRef
from pyspy import Profile, parse, record
from whip_shim import WhipEndpoint

ROOM = "bench"
IDLE_SAMPLE_S = 2.0  # livetape's own CPU with no stream, before publishing
DRAIN_S = 1.5  # after silencing: frames in flight land, jitter buffers flush
SETTLE_TIMEOUT_S = 15.0  # then wait at most this long for a lagging receiver to catch up
FIRST_FRAME_TIMEOUT_S = 30.0
HEARTBEAT_WAIT_S = 1.5  # > LIVETAPE_NODE_HEARTBEAT_SECONDS of the bench's servers
OPERATOR_KEY = "operator-key-of-the-capacity-bench"
SLACK_PER_STREAM = 2  # frames: aiortc holds the last one back; one may be in flight at start
T = TypeVar("T")
_LOG_PROBLEM = re.compile(r" (WARNING|ERROR|CRITICAL) |Traceback")


@dataclass(frozen=True)
class RunSettings:
    """What every run shares."""

    seconds: float  # measured window
    warmup: float  # settle time after every recording has written its first frame
    workers: int | None  # generator processes; None = LoadGen.auto_workers(n)
    media_path: Path
    work_dir: Path

    def loadgen(self, n: int, log_dir: Path) -> LoadGen:
        """The generator for an N-stream run."""
        log_dir.mkdir(parents=True, exist_ok=True)
        return LoadGen(self.media_path, self.workers or LoadGen.auto_workers(n), log_dir)


def log_problems(path: Path, limit: int = 3) -> list[str]:
    """A note on WARNING / ERROR / traceback lines in a log, with the first few distinct."""
    if not path.exists():
        return []
    hits = [line for line in path.read_text(errors="replace").splitlines()
            if _LOG_PROBLEM.search(line)]
    if not hits:
        return [f"{path.name}: clean"]
    distinct = list(dict.fromkeys(re.sub(r"^\S+ \S+ ", "", h)[:160] for h in hits))
    return [f"{path.name}: {len(hits)} warning/error lines, e.g. " + " | ".join(distinct[:limit])]


def livetape_label(shared_port: bool = False, media_processes: int = 1) -> str:
    """The system column of a livetape row."""
    label = "livetape, 1 UDP port" if shared_port else "livetape"
    return label if media_processes == 1 else f"{label} x{media_processes}"


async def run_livetape(cfg: RunSettings, n: int, *, profile: bool = False,
                       shared_port: bool = False,
                       media_processes: int = 1) -> tuple[Row, Profile | None]:
    """Record N streams with livetape; with ``profile``, py-spy samples the window; with
    ``shared_port``, every stream's media comes in on one UDP port (LIVETAPE_ICE_UDP_PORT);
    with ``media_processes`` > 1, the server starts that many media processes in all
    (LIVETAPE_MEDIA_PROCESSES) and their CPU is the server's."""
    data_dir = cfg.work_dir / (f"livetape-n{n}{'-profile' if profile else ''}"
                               f"{'-1port' if shared_port else ''}-m{media_processes}")
    # the bench looks for the limit itself: lift livetape's admission limits
    limits = {"LIVETAPE_MULTI_ROOM_MAX_MEMBERS": str(max(50, n + 1)),
              "LIVETAPE_MAX_PUBLICATIONS": str(max(16, n)),
              "LIVETAPE_MEDIA_PROCESSES": str(media_processes), "LIVETAPE_JOB_WORKERS": "0",
              "LIVETAPE_OPERATOR_KEY": OPERATOR_KEY, "LIVETAPE_NODE_HEARTBEAT_SECONDS": "0.5"}
    if shared_port:
        limits["LIVETAPE_ICE_UDP_PORT"] = str(free_udp_port())
    server = LiveServer(data_dir, env=limits)
    gen = cfg.loadgen(n, data_dir)
    users = [f"u{i:03d}" for i in range(n)]
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(asyncio.to_thread, server.stop)
        await asyncio.to_thread(server.start)
        assert server.process is not None
        pid = server.process.pid
        pids = [pid, *await _media_children(server, media_processes)]

        def cpu() -> float:  # the server and its media processes (and private NATS)
            return sum(proc_cpu_seconds(p) for p in pids)
        stack.push_async_callback(gen.close)
        await gen.start()
        api = await stack.enter_async_context(
            LivetapeClient(server.url, secret_key=server.secret_key))
        await api.create_room(ROOM)
        idle0 = cpu()
        await asyncio.sleep(IDLE_SAMPLE_S)
        idle = (cpu() - idle0) / IDLE_SAMPLE_S
        ours0 = await _media_drops(server, media_processes)
        tokens = [await api.mint_token(user) for user in users]
        drops = udp_receive_drops()
        await gen.publish([(api.whip_url(ROOM), token) for token in tokens])
        base, rec_ids = {}, []
        for i, user in enumerate(users):  # sent-before-start, per stream, once it started:
            # a start that takes longer than a GOP (through NATS, on a loaded host) would
            # otherwise count the frames before its key frame as lost; a frame lost later is
            # still a gap inside the file (count.missing) or short of what was sent
            rec_ids.append(await api.start_recording(ROOM, f"bench-{user}", user_id=user))
            base[i] = (await gen.sent(i))[i]
        late = await _wait_first_frames(api, rec_ids)
        await asyncio.sleep(cfg.warmup)
        spy = asyncio.create_task(record(pid, cfg.seconds, data_dir / "pyspy.raw")) \
            if profile else None
        each0 = [proc_cpu_seconds(p) for p in pids]
        window = await measure_window(cfg.seconds, cpu, gen)
        each = [(proc_cpu_seconds(p) - c) / window.elapsed for p, c in zip(pids, each0,
                                                                           strict=True)]
        final = await gen.silence()
        await asyncio.sleep(DRAIN_S)
        drops = udp_receive_drops() - drops
        await asyncio.sleep(HEARTBEAT_WAIT_S)  # the media processes' counters reach the registry
        ours = await _media_drops(server, media_processes) - ours0
        views = await settle(lambda: _views(api, rec_ids), lambda vs: sum(
            int(v.get("received", {}).get("video", 0)) for v in vs))
        file_ids = [await _stop(api, user) for user in users]
        count = Mp4Count()
        for ids in file_ids:
            for file_id in ids:
                count += await _count_played(api, file_id, data_dir / "check.mp4")
        peak = proc_status_bytes(pid, "VmHWM")
        prof = parse(await spy) if spy is not None else None
    sent = sum(final[i] - base[i] for i in range(n))
    received = sum(int(v.get("received", {}).get("video", 0)) for v in views)
    counted = sum(int(v.get("written", {}).get("video", 0)) for v in views)
    ended = [v.get("end_reason") for v in views if v.get("state") != "recording"]
    not_received, head, not_in_file = sent - received, received - counted, counted - count.video
    ok = (late == 0 and not ended and count.missing == 0 and not_in_file == 0
          and not_received <= SLACK_PER_STREAM * n and sum(map(len, file_ids)) >= n)
    notes = [f"{head / n:.0f} frames/stream received before the first keyframe (not recorded)",
             f"{not_received} sent but not received" + (
                 " (negative: pre-roll, frames sent before the start and recorded)"
                 if not_received < 0 else ""), f"{count.missing} gaps inside files",
             f"{not_in_file} counted by the recorder but not in the files",
             f"{count.audio} audio packets written", *log_problems(server.log_path)]
    if ended:
        notes.insert(0, f"{len(ended)} recordings ended by themselves before stop "
                        f"({', '.join(sorted(set(map(str, ended))))}): their counters are lost")
    if late:
        notes.insert(0, f"{late} recordings had written no video {FIRST_FRAME_TIMEOUT_S:.0f} s "
                        "after their start")
    notes += [f"idle server (no stream) {idle:.3f} CPU-s/s",
              f"{ours} datagrams dropped by the kernel on livetape's own sockets",
              "cores per process: " + ", ".join(f"{c:.2f}" for c in each),
              f"{drops} UDP datagrams dropped by the kernel (full receive buffer, host-wide, "
              "publish to end)", f"generator: {len(gen.children)} process(es)"]
    row = Row(livetape_label(shared_port, media_processes), n, window, peak, sent,
              received, count.video, ok, notes, media_drops=ours,
              busiest_process_cores=max(each))
    return row, prof


async def _media_children(server: LiveServer, media_processes: int) -> list[int]:
    """Pids of the server's media processes (and private nats-server), once all run."""
    if media_processes == 1:
        return []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        if len(await _nodes(server)) == media_processes:
            return server.children()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{media_processes} media processes did not all start")


async def _nodes(server: LiveServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        answer = await http.get(f"{server.url}/v1/operator/cluster/nodes",
                                headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
        answer.raise_for_status()
        nodes: list[dict[str, Any]] = answer.json()["nodes"]
        return nodes


async def _media_drops(server: LiveServer, media_processes: int) -> int:
    """The kernel's drops on the server's media sockets (every media process's)."""
    if media_processes > 1:
        return sum(int(node.get("udp_drops", 0)) for node in await _nodes(server))
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        health = (await http.get(f"{server.url}/healthz")).json()
    return int(health.get("media", {}).get("udp_drops", 0))


async def settle(read: Callable[[], Awaitable[T]], key: Callable[[T], int],
                 timeout: float = SETTLE_TIMEOUT_S) -> T:
    """Read until ``key`` of the reading stops changing: a lagging receiver caught up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value = await read()
    while loop.time() < deadline:
        await asyncio.sleep(0.5)
        again = await read()
        if key(again) == key(value):
            return again
        value = again
    return value


async def _views(api: LivetapeClient, rec_ids: list[str]) -> list[dict[str, Any]]:
    return [await api.get_recording(r) for r in rec_ids]


async def _stop(api: LivetapeClient, user: str) -> list[str]:
    """Stop a recording; one that ended by itself (409) still lists its files."""
    try:
        return await api.stop_recording(ROOM, user_id=user)
    except ApiError as exc:
        if "file_ids" not in exc.body:
            raise
        return [str(f) for f in exc.body["file_ids"]]


async def _wait_first_frames(api: LivetapeClient, rec_ids: list[str]) -> int:
    """Until every recording has written video (its first keyframe came), or a timeout.

    Returns how many recordings still had no video then (an overloaded server).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_FRAME_TIMEOUT_S
    pending = list(rec_ids)
    while pending:
        views = [await api.get_recording(r) for r in pending]
        pending = [r for r, v in zip(pending, views, strict=True)
                   if int(v.get("written", {}).get("video", 0)) == 0]
        if pending and loop.time() > deadline:
            return len(pending)
        await asyncio.sleep(0.25)
    return 0


async def _count_played(api: LivetapeClient, file_id: str, scratch: Path) -> Mp4Count:
    """Fetch a library file through its play URL and count it."""
    info = await api.get_file(file_id)
    url = info["play_set"][0]["url"]
    async with httpx.AsyncClient(trust_env=False, timeout=120) as http:
        response = await http.get(url)
        response.raise_for_status()
    scratch.write_bytes(response.content)
    try:
        return await asyncio.to_thread(count_mp4, scratch)
    finally:
        scratch.unlink(missing_ok=True)


async def _publish_and_measure(
    cfg: RunSettings, gen: LoadGen, targets: list[tuple[str, str]],
    server_cpu: Callable[[], float],
) -> tuple[Window, dict[int, int], int]:
    """Publish to ``targets`` (WHIP URL, token), warm up, measure the window, go quiet and
    let frames in flight land: the window, frames sent per stream, kernel UDP drops."""
    drops = udp_receive_drops()
    await gen.publish(targets)
    await asyncio.sleep(cfg.warmup)
    window = await measure_window(cfg.seconds, server_cpu, gen)
    final = await gen.silence()
    await asyncio.sleep(DRAIN_S)
    return window, final, udp_receive_drops() - drops


async def run_janus(cfg: RunSettings, n: int) -> Row:
    """Record N streams with Janus VideoRoom (``.mjr`` files), published through a WHIP shim."""
    work = cfg.work_dir / f"janus-n{n}"
    janus = JanusRef(workdir=work)
    gen = cfg.loadgen(n, work)
    endpoint = WhipEndpoint(lambda offer: janus.publish(offer))
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(janus.stop)
        await janus.start()
        stack.push_async_callback(endpoint.stop)
        await endpoint.start()
        stack.push_async_callback(gen.close)
        await gen.start()
        window, final, drops = await _publish_and_measure(
            cfg, gen, [(endpoint.url, "-")] * n, janus.cpu_seconds)
        await gen.close()  # DELETE -> leave: Janus closes the recordings
        await janus.stop()
    stats = recorded_frames(janus.record_dir)
    sent, written = sum(final.values()), sum(s.video_frames for s in stats.values())
    lost = sum(f.lost for s in stats.values() for f in s.of_kind("video"))
    audio = sum(s.audio_packets for s in stats.values())
    ok = lost == 0 and len(stats) == n and sent - written <= SLACK_PER_STREAM * n
    notes = [f"{len(stats)} recordings", f"{sent - written} sent but not in .mjr",
             f"{lost} RTP packets missing in .mjr", f"{audio} audio packets written",
             *log_problems(janus.log_path), f"{drops} UDP datagrams dropped (host-wide)",
             f"generator: {len(gen.children)} process(es)"]
    return Row("Janus", n, window, janus.peak_rss_bytes(), sent, None, written, ok, notes)


async def run_mediarecorder(cfg: RunSettings, n: int) -> Row:
    """Record N streams with aiortc's MediaRecorder in a receiver process of its own."""
    out = cfg.work_dir / f"mediarecorder-n{n}"
    ref = MediaRecorderRef(out)
    gen = cfg.loadgen(n, out)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(ref.close)
        await ref.start()
        stack.push_async_callback(gen.close)
        await gen.start()
        window, final, drops = await _publish_and_measure(
            cfg, gen, [(ref.url, "-")] * n, ref.child.cpu_seconds)
        received = await settle(ref.received_video, int)
        files = await ref.finish()
        peak = ref.child.peak_rss_bytes()
    count = Mp4Count()
    broken = 0
    for path in files:
        try:
            count += count_mp4(path)
        except (OSError, ValueError) as exc:  # av errors are ValueError subclasses
            broken += 1
            print(f"  {path.name}: unreadable ({exc})", file=sys.stderr)
    sent = sum(final.values())
    no_video = sum(1 for p in files if p.exists()) - broken
    ok = broken == 0 and count.video == received and sent - received <= SLACK_PER_STREAM * n
    notes = [f"{received - count.video} decoded frames not in the files",
             f"{sent - received} sent but not decoded", f"{count.audio} audio packets written",
             f"{broken} unreadable files of {len(files)}", *log_problems(ref.log_path),
             f"{drops} UDP datagrams dropped (host-wide)",
             f"generator: {len(gen.children)} process(es)"]
    if count.video == 0 and no_video:
        notes.insert(0, "NO video track in the files")
    return Row("MediaRecorder", n, window, peak, sent, received, count.video, ok, notes)
