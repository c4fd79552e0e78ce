"""/metrics as Prometheus scrapes it (parsed with prometheus_client's own parser): the series
move while a stream is published and recorded, HTTP requests are counted by route template
and status, and the endpoint answers only loopback or its token."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import publishing, wait_for
from livetape_harness.server import LiveServer, ServerFactory

TOKEN = "a-metrics-token-for-the-tests"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the scrape: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(server: LiveServer, **headers: str) -> dict[Any, float]:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.get(f"{server.url}/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


async def test_series_move_during_a_recording(start_server: ServerFactory) -> None:
    server = start_server(segment_seconds=2, idle_timeout_seconds=30)
    before = await scrape(server)
    assert value(before, "livetape_live_publications") == 0
    assert value(before, "livetape_rtp_packets_received_total") == 0
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, EncodedMedia.synthetic(3.0), loop=True):
            await api.start_recording("room-1", "metered", user_id="alice")

            async def two_segments_in() -> dict[Any, float] | None:
                now = await scrape(server)
                done = value(now, "livetape_segment_finalize_seconds_count") >= 1
                return now if done else None

            during = await wait_for(two_segments_in, timeout=30, interval=0.5)
            assert value(during, "livetape_live_publications") == 1
            assert value(during, "livetape_active_recordings") == 1
            assert value(during, "livetape_rtp_packets_received_total") > 50
            assert value(during, "livetape_media_bytes_received_total", kind="video") > 10_000
            assert value(during, "livetape_frames_written_total", kind="video") > 20
            assert value(during, "livetape_frames_written_total", kind="audio") > 20
            assert value(during, "livetape_recording_start_seconds_count") == 1
            await api.stop_recording("room-1", user_id="alice")
        after = await scrape(server)
    assert value(after, "livetape_live_publications") == 0
    assert value(after, "livetape_active_recordings") == 0
    # counters keep what ended publications and recorders took in and wrote
    for name, labels in (("livetape_rtp_packets_received_total", {}),
                         ("livetape_frames_written_total", {"kind": "video"})):
        assert value(after, name, **labels) >= value(during, name, **labels) > 0
    assert value(after, "livetape_segment_finalize_seconds_count") >= 2
    # the API calls, by route template (never an id) and status
    assert value(after, "livetape_http_requests_total", method="POST", route="/v1/record",
                 status="200") == 2
    assert value(after, "livetape_http_request_duration_seconds_count", method="POST",
                 route="/v1/record") == 2
    assert not [k for k in after if k[0] == "livetape_http_requests_total"
                and "metered" in str(k)]
    assert ("livetape_jobs", (("state", "queued"),)) in after
    assert "livetape_spool_bytes" in {name for name, _ in after}


async def test_jobs_and_their_durations(start_server: ServerFactory, backend: str) -> None:
    """A recorded file's cover job runs: the summary of finished jobs counts it (the run
    time is computed by each database engine in its own terms)."""
    server = start_server(backend, idle_timeout_seconds=30)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, EncodedMedia.synthetic(2.0)) as publisher:
            await api.start_recording("room-1", "covered", user_id="alice")
            await publisher.wait_done()
            await api.stop_recording("room-1", user_id="alice")

        async def finished_job() -> dict[Any, float] | None:
            now = await scrape(server)
            counts = [v for (name, _), v in now.items()
                      if name == "livetape_job_duration_seconds_count"]
            return now if sum(counts) >= 1 else None

        now = await wait_for(finished_job, timeout=60, interval=0.5)
    total = sum(v for (name, _), v in now.items() if name == "livetape_job_duration_seconds_sum")
    assert total > 0


async def test_only_loopback_or_the_token(start_server: ServerFactory) -> None:
    open_server = start_server(trusted_proxies="127.0.0.1")
    async with httpx.AsyncClient(timeout=30) as http:
        # a client elsewhere (as a trusted proxy reports it) is refused
        away = await http.get(f"{open_server.url}/metrics",
                              headers={"X-Forwarded-For": "203.0.113.7"})
        assert away.status_code == 401 and away.json()["code"] == 1001
        assert "LIVETAPE_METRICS_TOKEN" in away.json()["hint"]
    guarded = start_server(metrics_token=TOKEN)
    async with httpx.AsyncClient(timeout=30) as http:
        bare = await http.get(f"{guarded.url}/metrics")
        assert bare.status_code == 401 and bare.json()["code"] == 1001
        wrong = await http.get(f"{guarded.url}/metrics",
                               headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
        assert wrong.status_code == 401
    assert value(await scrape(guarded, Authorization=f"Bearer {TOKEN}"),
                 "livetape_live_publications") == 0
