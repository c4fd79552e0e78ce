"""``livetape publish``, ``livetape record ...``, ``livetape vod ...``: HTTP clients of a
running server (the SDK in :mod:`livetape.client`), printing its JSON answers."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from livetape.cli.options import client_options, print_json
from livetape.db.models import JobState

if TYPE_CHECKING:
    from livetape.client.api import LivetapeClient

ENDED = (JobState.DONE, JobState.FAILED)


@click.command()
@client_options
@click.option("--room", required=True, help="Room id.")
@click.option("--src-type", type=click.Choice(["camera", "screen"]), default="camera")
@click.option("--file", "media_file", type=click.Path(exists=True, dir_okay=False),
              help="Media file to send (H.264/VP8 + audio); default: a synthetic test source.")
@click.option("--seconds", type=float, default=None, help="Stop after N seconds.")
@click.option("--loop", is_flag=True, help="Repeat the media until stopped.")
@click.option("--ice-from-server", is_flag=True,
              help="Use the STUN/TURN servers the server hands out (GET /v1/ice-servers).")
@click.option("--relay", is_flag=True,
              help="Relay only, through the server's TURN servers (implies --ice-from-server).")
@click.option("--loss", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              help="Drop this share of the outgoing RTP packets (0.02: 2 %), retransmissions "
              "too: a lossy network made in the sender.")
@click.option("--jitter-ms", type=click.FloatRange(0), default=0.0,
              help="Stall the outgoing RTP this long about every 250 ms (packets wait in order).")
def publish(url: str, key: str | None, token: str | None, room: str, src_type: str,
            media_file: str | None, seconds: float | None, loop: bool, ice_from_server: bool,
            relay: bool, loss: float, jitter_ms: float) -> None:
    """Publish a file or a synthetic source into a room over WHIP (needs --token)."""
    from livetape.client.api import LivetapeClient
    from livetape.client.impairment import Impairment
    from livetape.client.media import EncodedMedia
    from livetape.client.publisher import WhipPublisher

    if not token:
        raise click.UsageError("publishing needs a user token (--token or LIVETAPE_TOKEN)")

    async def run() -> None:
        media = (EncodedMedia.from_file(Path(media_file)) if media_file
                 else EncodedMedia.synthetic(seconds or 10.0))
        whip = f"{url.rstrip('/')}/v1/rooms/{room}/whip?src_type={src_type}"
        ice_servers = None
        if ice_from_server or relay:
            async with LivetapeClient(url, token=token) as client:
                ice_servers = await client.ice_servers()
        impairment = Impairment(loss, jitter_ms) if loss or jitter_ms else None
        publisher = WhipPublisher(whip, token, media, loop=loop, ice_servers=ice_servers,
                                  ice_transport_policy="relay" if relay else "all",
                                  impairment=impairment)
        await publisher.start()
        click.echo(json.dumps({"location": publisher.location}))
        try:
            if seconds is not None:
                await asyncio.sleep(seconds)
            else:
                await publisher.wait_done()
        finally:
            await publisher.stop()
        if publisher.link is not None:
            link = publisher.link
            click.echo(json.dumps({"rtp_packets": link.rtp_packets, "dropped": link.dropped,
                                   "retransmitted": link.rtx_packets, "held": link.held}))

    asyncio.run(run())


def _call(url: str, key: str | None, token: str | None,
          call: Callable[[LivetapeClient], Awaitable[Any]]) -> Any:
    """``call(client)`` against the server; an API error prints its body and exits 1."""
    from livetape.client.api import ApiError, LivetapeClient

    async def run() -> Any:
        async with LivetapeClient(url, secret_key=key, token=token) as client:
            return await call(client)

    try:
        return asyncio.run(run())
    except ApiError as exc:
        print_json(exc.body)
        raise SystemExit(1) from exc


def _print_call(url: str, key: str | None, token: str | None,
                call: Callable[[LivetapeClient], Awaitable[Any]]) -> None:
    print_json(_call(url, key, token, call))


@click.group()
def record() -> None:
    """Start / stop recording (server key + --user, or a user token)."""


@record.command("start")
@client_options
@click.option("--room", required=True)
@click.option("--user", "user_id", default=None, help="User id (server-side calls).")
@click.option("--file-name", required=True)
@click.option("--src-type", type=click.Choice(["camera", "screen"]), default="camera")
@click.option("--audio-only", is_flag=True)
@click.option("--class-id", type=int, default=0)
@click.option("--tag", "tags", multiple=True)
def record_start(url: str, key: str | None, token: str | None, room: str,
                 user_id: str | None, file_name: str, src_type: str, audio_only: bool,
                 class_id: int, tags: tuple[str, ...]) -> None:
    """Start recording a participant's stream; prints {"recording_id"}."""
    async def call(client: LivetapeClient) -> Any:
        recording_id = await client.start_recording(
            room, file_name, user_id=user_id, src_type=src_type,
            record_type="audio" if audio_only else "video", class_id=class_id, tags=list(tags),
        )
        return {"recording_id": recording_id}

    _print_call(url, key, token, call)


@record.command("stop")
@client_options
@click.option("--room", required=True)
@click.option("--user", "user_id", default=None, help="User id (server-side calls).")
@click.option("--src-type", type=click.Choice(["camera", "screen"]), default="camera")
def record_stop(url: str, key: str | None, token: str | None, room: str,
                user_id: str | None, src_type: str) -> None:
    """Stop recording; prints {"file_ids"}."""
    async def call(client: LivetapeClient) -> Any:
        return {"file_ids": await client.stop_recording(room, user_id=user_id,
                                                        src_type=src_type)}

    _print_call(url, key, token, call)


@click.group()
def vod() -> None:
    """The VOD library."""


@vod.command("play-info")
@client_options
@click.argument("name")
@click.option("--page-no", type=int, default=1)
@click.option("--page-size", type=int, default=10)
def vod_play_info(url: str, key: str | None, token: str | None, name: str, page_no: int,
                  page_size: int) -> None:
    """DescribeVodPlayInfo: files whose name starts with NAME, with play URLs."""
    _print_call(url, key, token,
                lambda c: c.play_info(name, page_no=page_no, page_size=page_size))


@vod.command("convert")
@client_options
@click.argument("file_id")
@click.option("--definition", "definitions", type=int, multiple=True,
              help="10/20/30 (MP4 ladder), 210/220/230 (HLS); repeat. Default: 10, 20, 30.")
@click.option("--watermark", is_flag=True, help="Also make definition 1 (watermarked).")
@click.option("--screenshot", is_flag=True, help="Also take a cover and snapshots.")
@click.option("--wait", is_flag=True, help="Show a progress bar until the jobs end.")
def vod_convert(url: str, key: str | None, token: str | None, file_id: str,
                definitions: tuple[int, ...], watermark: bool, screenshot: bool,
                wait: bool) -> None:
    """ConvertVodFile: transcode FILE_ID to renditions; prints the jobs (or waits for them)."""
    async def call(client: LivetapeClient) -> Any:
        queued = await client.convert(file_id, list(definitions) or None,
                                      watermark=watermark, screenshot=screenshot)
        if not wait:
            return queued
        return await _follow(client, [job["job_id"] for job in queued["jobs"]])

    result = _call(url, key, token, call)
    print_json(result)
    if wait and any(job["state"] == JobState.FAILED for job in result["jobs"]):
        raise SystemExit(1)


@vod.command("jobs")
@client_options
@click.option("--file-id", default=None)
@click.option("--state", type=click.Choice([s.value for s in JobState]))
def vod_jobs(url: str, key: str | None, token: str | None, file_id: str | None,
             state: str | None) -> None:
    """List processing jobs, newest first."""
    _print_call(url, key, token, lambda c: c.list_jobs(file_id=file_id, state=state))


async def _follow(client: LivetapeClient, job_ids: list[str],
                  poll: float = 0.5) -> dict[str, Any]:
    """Show one progress bar over ``job_ids`` (mean percent) until all have ended."""
    jobs: list[dict[str, Any]] = []
    bar: Any = click.progressbar(length=100, label=f"{len(job_ids)} job(s)", show_percent=True,
                                 file=sys.stderr)
    with bar:
        shown = 0
        while True:
            jobs = [await client.get_job(job_id) for job_id in job_ids]
            done = [j for j in jobs if j["state"] in ENDED]
            percent = int(sum(100 if j in done else j["progress"] for j in jobs) / len(jobs))
            bar.update(percent - shown)
            shown = percent
            if len(done) == len(jobs):
                break
            await asyncio.sleep(poll)
    return {"jobs": jobs}
