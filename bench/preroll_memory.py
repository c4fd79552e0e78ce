"""Pre-roll memory per live stream: livetape's own ``Preroll`` fed the bench's 720p30 stream.

Each live publication keeps its samples from its latest key frame on (up to
``LIVETAPE_PREROLL_SECONDS``, default 4, and ``LIVETAPE_PREROLL_MAX_BYTES``), so that a
recording starts at the key frame before its request. What that costs depends on the GOP
and the bitrate only, not on the server's load, so it is measured here in-process, exactly:
the clip of the capacity bench (1280x720@30 H.264 ~2 Mbit/s, noise so x264 reaches the
rate, + 20 ms Opus), encoded at several key frame intervals, goes frame by frame (each at
its own time, audio interleaved) through the very class the server uses. Per GOP: the
longest span held, the payload bytes held (peak and mean over time) and the peak memory
held including Python's objects (``sys.getsizeof`` of each sample and its bytes).

    .venv/bin/python bench/preroll_memory.py            # GOPs 1, 2, 4, 8 s; ~1 min
"""

from __future__ import annotations

import argparse
import heapq
import sys
import time
from dataclasses import dataclass

from livetape.client.media import EncodedMedia
from livetape.config import Settings
from livetape.live.preroll import Preroll
from livetape.recorder.media_source import Sample
from loadgen import FPS, build_media, media_bitrate


@dataclass(frozen=True)
class PrerollRow:
    gop_seconds: float
    bitrate: float  # video bits per second of the clip
    held_seconds: float  # longest span held
    peak_bytes: int  # payload
    mean_bytes: float  # payload, averaged over the stream's time
    peak_footprint: int  # payload + the samples' Python objects


def samples_of(media: EncodedMedia) -> list[Sample]:
    """The clip's frames as the server's publication would stamp them, in arrival order."""
    video = [Sample("video", "h264", bytes(p), int(p.pts or 0), 90000, bool(p.is_keyframe),
                    int(p.pts or 0) / 90000, None) for p in media.video]
    audio = [Sample("audio", "opus", bytes(p), int(p.pts or 0), 48000, False,
                    int(p.pts or 0) / 48000, None) for p in media.audio]
    return list(heapq.merge(video, audio, key=lambda s: s.arrival))


def measure(media: EncodedMedia, gop_seconds: float, seconds: float,
            max_bytes: int) -> PrerollRow:
    preroll = Preroll(seconds, max_bytes)
    held_seconds, weighted, footprint, last = 0.0, 0.0, 0, 0.0
    for sample in samples_of(media):
        weighted += preroll.nbytes * (sample.arrival - last)
        last = sample.arrival
        preroll.add(sample)
        held_seconds = max(held_seconds, preroll.held_seconds)
        if sample.kind == "video" and preroll.nbytes >= preroll.peak_bytes:
            footprint = max(footprint, preroll.footprint())
    return PrerollRow(gop_seconds, media_bitrate(media), held_seconds, preroll.peak_bytes,
                      weighted / max(last, 1e-9), footprint)


def run(gops: list[float], seconds: float, max_bytes: int, *, log: bool = True) -> str:
    """Encode a clip per GOP (two GOPs long at least), measure, and format the table."""
    rows = []
    for gop in gops:
        t = time.monotonic()
        media = build_media(max(2 * gop + 1, 6.0), keyint=round(gop * FPS))
        rows.append(measure(media, gop, seconds, max_bytes))
        if log:
            print(f"   pre-roll GOP {gop:g} s measured ({time.monotonic() - t:.0f} s)",
                  file=sys.stderr, flush=True)
    return format_rows(rows, seconds, max_bytes)


def format_rows(rows: list[PrerollRow], seconds: float, max_bytes: int) -> str:
    lines = [f"pre-roll memory per live stream (LIVETAPE_PREROLL_SECONDS={seconds:g}, "
             f"LIVETAPE_PREROLL_MAX_BYTES={max_bytes}; 1280x720@30 H.264 + Opus):",
             f"{'GOP s':>6}  {'Mbit/s':>6}  {'held s':>6}  {'peak KiB':>8}  {'mean KiB':>8}  "
             f"{'peak KiB with objects':>21}"]
    for r in rows:
        lines.append(f"{r.gop_seconds:>6g}  {r.bitrate / 1e6:>6.2f}  {r.held_seconds:>6.2f}  "
                     f"{r.peak_bytes / 1024:>8.0f}  {r.mean_bytes / 1024:>8.0f}  "
                     f"{r.peak_footprint / 1024:>21.0f}")
    lines.append("(a GOP longer than the limit is not kept: its key frame is dropped once older "
                 "than the limit, and the video after it until the next key frame)")
    return "\n".join(lines)


def main() -> int:
    defaults = Settings()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gops", default="1,2,4,8", help="key frame intervals in seconds (1,2,4,8)")
    p.add_argument("--seconds", type=float, default=defaults.preroll_seconds)
    p.add_argument("--max-bytes", type=int, default=defaults.preroll_max_bytes)
    args = p.parse_args()
    print(run([float(g) for g in args.gops.split(",")], args.seconds, args.max_bytes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
