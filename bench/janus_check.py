"""Quick check of the Janus reference alone: N streams, Janus's cost, and a second opinion.

Usage: ``.venv/bin/python bench/janus_check.py [N] [--seconds 10] [--keep]``

Publishes N streams with the benchmark's shared sender (:mod:`loadgen`, livetape's
WhipPublisher through :mod:`whip_shim`) exactly as ``record_capacity.py`` does, prints the
Janus row, then converts every ``.mjr`` with Janus's own ``janus-pp-rec`` (Debian package
``janus-tools``; skipped when missing) and compares its packet counts with the harness's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from janus_ref import count_container_packets, postprocess, pp_rec_binary, recorded_frames
from loadgen import build_media, save_media
from measure import format_table
from systems import RunSettings, run_janus


async def run(n: int, seconds: float, keep: bool) -> int:
    """Publish N streams into Janus for ``seconds``, print the row and the cross-check."""
    work = Path(tempfile.mkdtemp(prefix="janus-check-"))
    try:
        save_media(await asyncio.to_thread(build_media, 10.0), work / "media.pkl")
        row = await run_janus(RunSettings(seconds, 1.0, None, work / "media.pkl", work), n)
        print(format_table([row]))
        record_dir = work / f"janus-n{n}" / "recordings"
        if pp_rec_binary():
            counted = {f.path: f.frames for r in recorded_frames(record_dir).values()
                       for f in r.files}
            for mjr, out in postprocess(record_dir, work / "converted").items():
                print(f"janus-pp-rec {out.name}: {count_container_packets(out)} packets "
                      f"(mjr count: {counted.get(mjr)})")
        else:
            print("janus-pp-rec not found (apt-get install janus-tools): no cross-check")
        return 0 if row.ok else 1
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1, help="number of streams (1)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window (10)")
    parser.add_argument("--keep", action="store_true", help="keep config, logs and recordings")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run(args.n, args.seconds, args.keep))


if __name__ == "__main__":
    sys.exit(main())
