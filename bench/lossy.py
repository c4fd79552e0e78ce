"""Recording through loss: frames kept, NACK / RTX / PLI and A/V sync at 0, 2 and 5 % loss.

For each loss level, a fresh livetape server records N publishers (livetape's WhipPublisher,
in this process) sending the synthetic clip (flash + beep every 3 s; 720p30, x264 codes it
in ~0.9 Mbit/s: several packets per frame) through an impaired link (seeded random loss,
30 ms stalls about every 250 ms: livetape.client.impairment; every publisher its own seed).
Per level it prints: video frames sent in the files' window / decoded from the files and the
share kept, pictures that differ from the published ones (frames written without their
references), packets dropped by the link and retransmitted by the publishers, the server's
NACK requests, recovered packets, gaps given up and PLIs (from /metrics), and the worst A/V
offset over the flashes whose beep onset was received. The 0 % row is the baseline.

    .venv/bin/python bench/lossy.py                     # N = 1 and 4, 15 s; ~3 min
    .venv/bin/python bench/lossy.py --n 8 --seconds 20 --loss 0,0.02,0.05,0.1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from livetape.client.api import LivetapeClient
from livetape.client.impairment import Impairment
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher
from livetape_harness.flow import download, files_of
from livetape_harness.media_checks import compare_pictures, decode_video, sync_offsets
from livetape_harness.server import LiveServer

HELD_BACK = 1  # the last frame stays in aiortc's jitter buffer (see the README's Files)
COUNTERS = ("nack_requests", "packets_recovered", "video_gaps", "pli_sent")


@dataclass
class Level:
    loss: float
    sent: int = 0
    kept: int = 0
    wrong: int = 0
    errors: int = 0
    dropped: int = 0
    packets: int = 0
    rtx: int = 0
    worst_sync: float = 0.0
    counters: dict[str, float] | None = None

    def row(self) -> str:
        c = self.counters or {}
        return (f"| {self.loss:.0%} | {self.sent} | {self.kept} | {self.kept / self.sent:.2%} "
                f"| {self.wrong} | {self.errors} | {self.dropped}/{self.packets} | {self.rtx} | "
                + " | ".join(f"{c.get(n, 0):.0f}" for n in COUNTERS)
                + f" | {self.worst_sync * 1000:.1f} |")


HEADER = ("| loss | frames sent | written | kept | wrong pictures | decode errors | "
          "packets dropped | RTX sent | NACK requests | recovered | gaps | PLIs | "
          "worst A/V (ms) |\n|" + "---|" * 13)


async def metrics(server: LiveServer) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=30) as http:
        text = (await http.get(f"{server.url}/metrics")).text
    found = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    return {n: found.get(f"livetape_{n}_total", 0.0) for n in COUNTERS}


async def run_level(loss: float, args: argparse.Namespace, media: EncodedMedia,
                    work: Path) -> Level:
    level = Level(loss)
    server = LiveServer(work / f"loss-{loss}", env={"LIVETAPE_JOB_WORKERS": "0"})
    await asyncio.to_thread(server.start)
    try:
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            await api.create_room("room-1")
            publishers = [WhipPublisher(
                api.whip_url("room-1"), await api.mint_token(f"u{i}"), media,
                impairment=Impairment(loss=loss, jitter_ms=args.jitter_ms, seed=i + 1))
                for i in range(args.n)]
            await asyncio.gather(*(p.start() for p in publishers))
            for i in range(args.n):
                await api.start_recording("room-1", f"lossy{i}", user_id=f"u{i}")
            await asyncio.gather(*(p.wait_done() for p in publishers))
            await asyncio.sleep(1.0)  # the last retransmissions land
            for i in range(args.n):
                await api.stop_recording("room-1", user_id=f"u{i}")
            await asyncio.gather(*(p.stop() for p in publishers))
            level.counters = await metrics(server)
            for i, publisher in enumerate(publishers):
                files = await files_of(api, f"lossy{i}")
                path = await download(files[0]["play_set"][0]["url"], work / f"{loss}-{i}.mp4")
                pictures, errors = await asyncio.to_thread(decode_video, path)
                first, wrong = await asyncio.to_thread(compare_pictures, pictures, media)
                _, offsets = await asyncio.to_thread(sync_offsets, path)
                level.sent += publisher.packets_sent["video"] - first - HELD_BACK
                level.kept += len(pictures)
                level.wrong += len(wrong)
                level.errors += len(errors)
                level.worst_sync = max([level.worst_sync, *(abs(o) for o in offsets)])
                if args.keep and any(abs(o) > 0.04 for o in offsets):
                    print(f"# {path}: A/V offsets {[round(o * 1000, 1) for o in offsets]} ms")
                link = publisher.link
                assert link is not None
                level.dropped += link.dropped
                level.packets += link.rtp_packets
                level.rtx += link.rtx_packets
    finally:
        await asyncio.to_thread(server.stop)
    return level


async def main_async(args: argparse.Namespace) -> None:
    media = EncodedMedia.synthetic(args.seconds, width=1280, height=720, fps=30,
                                   video_bitrate=2_000_000)
    kbps = sum(p.size for p in media.video) * 8 / media.duration / 1000
    load = os.getloadavg()[0]
    print(f"# recording through loss: {args.n} publisher(s), {args.seconds:.0f} s of 720p30 "
          f"H.264 ({kbps:.0f} kbit/s, key frame every second) + Opus, {args.jitter_ms:.0f} ms "
          f"stalls; host load average {load:.2f} on {os.cpu_count()} cores at the start")
    print(HEADER)
    tmp = tempfile.mkdtemp(prefix="livetape-lossy-")
    try:
        for loss in args.loss:
            level = await run_level(loss, args, media, Path(tmp))
            print(level.row(), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4, help="publishers at once (4)")
    parser.add_argument("--seconds", type=float, default=15.0, help="media length (15)")
    parser.add_argument("--jitter-ms", type=float, default=30.0, help="stall length (30)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the files (and name those with an A/V offset over 40 ms)")
    parser.add_argument("--loss", type=lambda t: [float(x) for x in t.split(",")],
                        default=[0.0, 0.02, 0.05], help="loss levels (0,0.02,0.05)")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
