"""What a browser publisher sends to livetape over time: Chromium's bitrate and its estimate.

livetape sends no REMB (a recorder has no bitrate to adapt, see livetape.live.lean_receive),
so a browser's congestion control has only the receiver reports' loss and jitter to go by.
This publishes headless Chromium's fake camera (1280x720, 30 fps asked) through the browser
SDK to a fresh server for ``--seconds`` and prints, each second, what its own statistics
say: the video bitrate sent (outbound-rtp bytesSent), its bandwidth estimate
(candidate-pair availableOutgoingBitrate), the picture size and what limits the quality.

    .venv/bin/python bench/browser_bitrate.py --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from livetape.client.api import LivetapeClient
from livetape_harness.browser import chromium, open_sdk_page, serve_html
from livetape_harness.server import LiveServer

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bitrate</title></head>
<body><p id="ready">loading</p>
<script type="module">
import {{ Livetape }} from "{sdk}";
let lt = null;
window.steps = {{
  connect: (url, token, room) => {{ lt = new Livetape({{ url, token, room }}); return true; }},
  publish: async () => {{
    const camera = {{ video: {{ width: 1280, height: 720, frameRate: 30 }}, audio: true }};
    await lt.publish({{ camera }});
    return true;
  }},
  sample: async () => {{
    const report = await lt.publications.get("camera").pc.getStats();
    const out = {{ bytes: 0, estimate: null, width: 0, height: 0, fps: 0, limit: "" }};
    report.forEach((s) => {{
      if (s.type === "outbound-rtp" && s.kind === "video") {{
        out.bytes += s.bytesSent || 0;
        out.width = s.frameWidth || 0; out.height = s.frameHeight || 0;
        out.fps = s.framesPerSecond || 0; out.limit = s.qualityLimitationReason || "";
      }}
      if (s.type === "candidate-pair" && s.nominated && s.availableOutgoingBitrate)
        out.estimate = s.availableOutgoingBitrate;
    }});
    return out;
  }},
}};
document.getElementById("ready").textContent = "ready";
</script></body></html>
"""


async def run(seconds: float) -> list[dict[str, Any]]:
    """Publish for ``seconds``; one sample of Chromium's statistics per second."""
    work = Path(tempfile.mkdtemp(prefix="browser-bitrate-"))
    server = LiveServer(work / "server")
    await asyncio.to_thread(server.start)
    samples: list[dict[str, Any]] = []
    try:
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            room = await api.create_room("bitrate")
            token = await api.mint_token("browser")
            with serve_html(PAGE.format(sdk=f"{server.url}/sdk/livetape.js")) as page_url:
                async with chromium() as browser:
                    page = await browser.new_page()
                    await open_sdk_page(page, page_url, server.url, token, room, 15_000)
                    await page.evaluate("window.steps.publish()")
                    for _ in range(int(seconds)):
                        await asyncio.sleep(1.0)
                        samples.append(await page.evaluate("window.steps.sample()"))
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(work, ignore_errors=True)
    return samples


def table(samples: list[dict[str, Any]]) -> str:
    lines = ["  t s  sent kbit/s  estimate kbit/s   picture  fps  quality limited by"]
    previous = 0
    for t, s in enumerate(samples, 1):
        rate = (s["bytes"] - previous) * 8 / 1000
        previous = s["bytes"]
        estimate = f"{s['estimate'] / 1000:.0f}" if s["estimate"] else "-"
        lines.append(f"{t:5d}  {rate:11.0f}  {estimate:>15}  {s['width']:>4}x{s['height']:<4}"
                     f"  {s['fps']:3.0f}  {s['limit']}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30.0, help="publishing time (30)")
    args = p.parse_args()
    print(table(asyncio.run(run(args.seconds))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
