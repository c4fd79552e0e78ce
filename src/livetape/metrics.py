"""This process's metrics, in Prometheus's text format (the ``prometheus_client`` library).

One :class:`Metrics` per server, in its own registry (no library-wide default registry):
- observed as things happen: HTTP requests by route and status with their latency, how long
  a recording took from its request to its first frame written, how long a closed segment
  took to land in the library;
- read when scraped (:class:`Scraped`, filled by :mod:`livetape.monitoring.scrape`): live
  publications, running recordings, what the media node received and wrote, the job queue
  and the job durations (from the database: every node of a cluster shows the same), the
  storage spool.

Each process serves its own: in a cluster, scrape every node.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
START_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class JobDurations:
    kind: str
    state: str  # done | failed
    count: int
    seconds: float


@dataclass(frozen=True)
class Scraped:
    """What is read at scrape time; counters only ever grow while the process runs."""

    publications: int = 0
    recordings: int = 0
    rtp_packets: int = 0
    media_bytes: dict[str, int] = field(default_factory=dict)  # by kind
    frames_written: dict[str, int] = field(default_factory=dict)  # by kind
    frames_dropped: int = 0
    udp_drops: int = 0
    nack_requests: int = 0
    packets_recovered: int = 0
    video_gaps: int = 0
    plis: int = 0
    jobs: dict[str, int] = field(default_factory=dict)  # queued / running
    job_durations: list[JobDurations] = field(default_factory=list)
    spool_files: int = 0
    spool_bytes: int = 0


class _ScrapedCollector(Collector):
    def __init__(self) -> None:
        self.latest = Scraped()

    def collect(self) -> Iterator[Metric]:
        s = self.latest
        yield GaugeMetricFamily("livetape_live_publications",
                                "WHIP publications live on this node", value=s.publications)
        yield GaugeMetricFamily("livetape_active_recordings",
                                "recordings running on this node", value=s.recordings)
        yield CounterMetricFamily("livetape_rtp_packets_received",
                                  "RTP packets received by this node's publications",
                                  value=s.rtp_packets)
        received = CounterMetricFamily("livetape_media_bytes_received",
                                       "media bytes received (depacketized frames)",
                                       labels=["kind"])
        for kind, value in sorted(s.media_bytes.items()):
            received.add_metric([kind], value)
        yield received
        written = CounterMetricFamily("livetape_frames_written",
                                      "frames written into recorded files", labels=["kind"])
        for kind, value in sorted(s.frames_written.items()):
            written.add_metric([kind], value)
        yield written
        yield CounterMetricFamily("livetape_frames_dropped",
                                  "damaged video frames left out of recorded files",
                                  value=s.frames_dropped)
        yield CounterMetricFamily("livetape_udp_receive_drops",
                                  "datagrams the kernel dropped on this node's media sockets",
                                  value=s.udp_drops)
        for name, text, count in (
            ("livetape_nack_requests", "video packets asked for again (RTCP NACK), repeats "
             "included", s.nack_requests),
            ("livetape_packets_recovered", "missing video packets that came after all "
             "(retransmitted or late)", s.packets_recovered),
            ("livetape_video_gaps", "missing video packets given up (frames left out up to "
             "the next key frame)", s.video_gaps),
            ("livetape_pli_sent", "key frame requests (RTCP PLI) sent", s.plis),
        ):
            yield CounterMetricFamily(name, text, value=count)
        jobs = GaugeMetricFamily("livetape_jobs", "processing jobs by state (cluster-wide)",
                                 labels=["state"])
        for state, value in sorted(s.jobs.items()):
            jobs.add_metric([state], value)
        yield jobs
        durations = SummaryMetricFamily("livetape_job_duration_seconds",
                                        "finished processing jobs and their run time "
                                        "(cluster-wide)", labels=["kind", "state"])
        for d in s.job_durations:
            durations.add_metric([d.kind, d.state], count_value=d.count, sum_value=d.seconds)
        yield durations
        yield GaugeMetricFamily("livetape_spool_files",
                                "recorded files waiting in the spool for the object store",
                                value=s.spool_files)
        yield GaugeMetricFamily("livetape_spool_bytes", "bytes waiting in the spool",
                                value=s.spool_bytes)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "livetape_http_requests", "HTTP requests answered, by route and status",
            ["method", "route", "status"], registry=self.registry)
        self.http_seconds = Histogram(
            "livetape_http_request_duration_seconds", "time to answer an HTTP request "
            "(to its last byte)", ["method", "route"], buckets=LATENCY_BUCKETS,
            registry=self.registry)
        self.recording_start_seconds = Histogram(
            "livetape_recording_start_seconds", "from a recording's start request to its "
            "first frame written", buckets=START_BUCKETS, registry=self.registry)
        self.segment_finalize_seconds = Histogram(
            "livetape_segment_finalize_seconds", "from a segment's close to its file in the "
            "library (remux, probe, store)", buckets=LATENCY_BUCKETS, registry=self.registry)
        self.webhook_deliveries = Counter(
            "livetape_webhook_deliveries", "webhook delivery attempts by outcome",
            ["outcome"], registry=self.registry)
        self._scraped = _ScrapedCollector()
        self.registry.register(self._scraped)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_seconds.labels(method, route).observe(seconds)

    def exposition(self, scraped: Scraped) -> bytes:
        """The text format, with ``scraped`` as the values read now."""
        self._scraped.latest = scraped
        return generate_latest(self.registry)
