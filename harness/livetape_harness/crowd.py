"""Several publishers in one process, for tests that run them somewhere else (a network
namespace): ``python -m livetape_harness.crowd URL KEY ROOM N`` creates the room if needed,
mints a token per user (``user-1`` .. ``user-N``), publishes one shared synthetic clip per
user in a loop, prints ``{"user", "location", "answer_candidates"}`` per connected publisher
and then ``ready``, and stops them all (WHIP DELETE) when its stdin closes or it gets SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipPublisher


async def crowd(url: str, key: str, room: str, count: int, policy: str) -> None:
    media = EncodedMedia.synthetic(6.0, width=320, height=180, video_bitrate=300_000)
    publishers: list[WhipPublisher] = []
    async with LivetapeClient(url, secret_key=key) as api:
        try:
            await api.create_room(room)
        except ApiError:
            pass  # it exists
        for n in range(1, count + 1):
            token = await api.mint_token(f"user-{n}")
            ice_servers = await api.ice_servers(f"user-{n}") if policy == "relay" else None
            publisher = WhipPublisher(api.whip_url(room, "camera"), token, media, loop=True,
                                      ice_servers=ice_servers, ice_transport_policy=policy)
            await publisher.start()
            publishers.append(publisher)
            answer = (publisher.answer_sdp or "").splitlines()
            candidates = [line[2:] for line in answer if line.startswith("a=candidate:")]
            print(json.dumps({"user": f"user-{n}", "location": publisher.location,
                              "answer_candidates": candidates}), flush=True)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    await stop.wait()
    await asyncio.gather(*(p.stop() for p in publishers), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("room")
    parser.add_argument("count", type=int)
    parser.add_argument("--relay", action="store_true",
                        help="relay only, through the TURN servers livetape hands out")
    args = parser.parse_args()
    asyncio.run(crowd(args.url, args.key, args.room, args.count,
                      "relay" if args.relay else "all"))


if __name__ == "__main__":
    main()
