"""The FastAPI application: builds the services in its lifespan, maps errors at the edge."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from livetape import __version__
from livetape.api.deps import Services, log_fields
from livetape.api.error_handlers import install_error_handlers
from livetape.api.guard import NulGuard
from livetape.api.limits import BodyLimitMiddleware, Limit
from livetape.api.openapi import document
from livetape.api.request_context import RequestContext
from livetape.api.routes import (
    app_settings,
    billing,
    classes,
    console,
    ice,
    monitoring,
    nodes,
    processing,
    record,
    rooms,
    serving,
    tencent_cloud,
    vod,
    web,
    webhooks,
    whip,
)
from livetape.auth.apps import AppService
from livetape.auth.ice_credentials import IceCredentials
from livetape.billing.balance import Balances
from livetape.billing.bills import Biller, BillingRunner
from livetape.billing.plans import PlanBook
from livetape.billing.traffic import TrafficMeter, TrafficMiddleware
from livetape.cluster.membership import ClusterMembership
from livetape.cluster.registry import NodeLoad
from livetape.cluster.slots import PublicationSlots
from livetape.cluster.viewers import SharedViewers
from livetape.config import Settings
from livetape.db.session import Database
from livetape.errors import LivetapeError
from livetape.jobs.pool import WorkerPool
from livetape.jobs.processing_service import ProcessingService
from livetape.jobs.processor import clear_work_folder
from livetape.jobs.queue import JobQueue
from livetape.library.class_tree import ClassTree
from livetape.library.files import Library
from livetape.medianode.directory import NodeDirectory
from livetape.medianode.in_process import InProcessMediaNode
from livetape.medianode.interface import MediaNode, NodeTotals
from livetape.medianode.media_layout import media_node_ids
from livetape.medianode.service import NodeService
from livetape.metrics import Metrics
from livetape.monitoring.readiness import ReadinessChecks
from livetape.monitoring.scrape import Scraper
from livetape.periodic import Periodic
from livetape.playback.lookup import MediaLookup
from livetape.playback.playback_service import NodeUrl, PlaybackService
from livetape.playback.playlists import TrialIndex
from livetape.playback.signing import PlayGuard
from livetape.recording.admission import RecordingAdmission
from livetape.recording.part_shipper import PartShipper
from livetape.recording.reaper import NodeReaper
from livetape.recording.recording_service import RecordingService
from livetape.recording.resume import Resumer
from livetape.rooms.room_service import RoomService
from livetape.storage import create_storage
from livetape.storage.spool import through_spool
from livetape.tencent.context import Backends
from livetape.tencent.dialect import TencentDialect
from livetape.tencent.legacy import LegacyDialect
from livetape.webhooks.webhook_service import WebhookService

log = logging.getLogger(__name__)


async def _sweep_expired(library: Library) -> None:
    """Delete library files whose expiry time has passed."""
    deleted = await library.sweep_expired(datetime.now(UTC))
    if deleted:
        log.info("expired files deleted: %s", ", ".join(deleted))


def _membership(config: Settings, node: InProcessMediaNode) -> ClusterMembership | None:
    """This node's part in a cluster (LIVETAPE_NATS_URL), None for a single node."""
    if not config.nats_url:
        return None

    def load() -> NodeLoad:
        rooms = node.live_rooms()
        return NodeLoad(publications=sum(rooms.values()), rooms=list(rooms),
                        udp_drops=node.udp_drops())

    return ClusterMembership(config, load)


def _live_node_ids(cluster: ClusterMembership) -> Callable[[], Awaitable[list[str]]]:
    """The ids of the nodes in the registry now (raising when it cannot be read)."""

    async def live() -> list[str]:
        return [entry.node_id for entry in await cluster.registry.nodes()]

    return live


def _node_url(cluster: ClusterMembership | None) -> NodeUrl | None:
    """A live node's public URL from the registry (None: not live, or the registry away)."""
    if cluster is None:
        return None

    async def url(node_id: str) -> str | None:
        try:
            return (await cluster.registry.get(node_id)).public_url
        except LivetapeError:
            return None

    return url


def _on_notices(cluster: ClusterMembership, lookup: MediaLookup,
                node: InProcessMediaNode) -> None:
    """What this node does when another one announces a change."""
    cluster.notices.on("app_changed", lambda f: lookup.forget_app(f["app_id"], announce=False))
    cluster.notices.on("file_changed",
                       lambda f: lookup.forget_file(f["file_id"], announce=False))
    cluster.notices.on("room_closed", lambda f: node.close_room(f["app_id"], f["room_id"]))


def create_app(config: Settings) -> FastAPI:
    """A livetape server for ``config``; nothing starts until the lifespan runs."""
    traffic = TrafficMeter()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(config.resolved_database_url())
        await db.start()
        jobs = JobQueue(db.sessions, max_attempts=config.job_max_attempts)
        remote = create_storage(config)
        storage, spool = through_spool(remote, config, uploads=True)
        library = Library(db.sessions, storage, config, on_delete=jobs.forget_file)
        if spool is not None:  # recordings wait there while the object store is away
            spool.on_uploaded(library.uploaded)
            await spool.start()
        # the seam: everything live goes through it; in a cluster, this node's media node
        # is served over NATS and the control plane reaches every node through a directory
        node = InProcessMediaNode(config, node_id=config.resolved_node_id()
                                  if config.nats_url else "local",
                                  on_recording_started=metrics.recording_start_seconds.observe)
        cluster = _membership(config, node)
        media: MediaNode = node
        served: NodeService | None = None
        reaper: NodeReaper | None = None
        slots: PublicationSlots | None = None
        viewers: SharedViewers | None = None
        if cluster is not None:  # limits and rlimit counted over every node, in NATS
            slots = PublicationSlots(cluster.connection, config, cluster.node_id)
            node.share_limits(slots)
            viewers = SharedViewers(cluster.connection, config)
            media = NodeDirectory(config, cluster.node_id, cluster.connection.client,
                                  cluster.registry.nodes)
        announce = cluster.notices.announce if cluster is not None else None
        lookup = MediaLookup(db.sessions, ttl=config.media_lookup_seconds, announce=announce)
        apps = AppService(db.sessions, token_ttl=config.token_default_ttl_seconds,
                          max_token_ttl=config.max_token_ttl_seconds,
                          on_change=lookup.forget_app)  # playback sees new settings at once
        balances, classes = Balances(db.sessions), ClassTree(db.sessions)
        admission = RecordingAdmission(config, apps, balances, classes)
        processing = ProcessingService(config, library, jobs, apps)
        # a cluster: open recording files reach the shared storage as they are written
        shipper = PartShipper(remote, config.part_upload_seconds, config.data_dir / "chunks") \
            if cluster is not None else None
        recordings = RecordingService(config, db.sessions, media, library, admission,
                                      landed=processing.landed,
                                      on_finalized=metrics.segment_finalize_seconds.observe,
                                      shipper=shipper)
        resumer = Resumer(config, db.sessions, recordings)
        room_service = RoomService(config, db.sessions, media, announce=announce,
                                   published=resumer.published)
        plans = PlanBook(db.sessions)
        biller = Biller(db.sessions, library.usage, plans, config.prices)
        media_children = media_node_ids(config)  # LIVETAPE_MEDIA_PROCESSES - 1 (cli starts them)
        recovered = await recordings.recover(also=media_children)
        if recovered:
            log.warning("recovered %d recording(s) left open by a crash", recovered)
        if cluster is None:
            await node.start(recordings.events)
        ice_credentials = IceCredentials(
            stun_urls=config.stun_urls, turn_urls=config.turn_urls,
            turn_secret=config.turn_secret, ttl_seconds=config.turn_ttl_seconds)
        playback = PlaybackService(config, library, lookup,
                                   PlayGuard(config.play_rlimit_max_tracked, viewers),
                                   TrialIndex(), _node_url(cluster))
        async def totals() -> NodeTotals:
            """This server's media processes together: its own, and each media-only
            process's over NATS (one that does not answer is left out, and logged)."""
            found = [await node.totals()]
            for child in media_children:
                try:
                    found.append(await media.client(child).totals())  # type: ignore[attr-defined]
                except LivetapeError as exc:
                    log.warning("metrics: media process %s did not answer: %s", child, exc)
            return NodeTotals.combined(found)

        scraper = Scraper(db.sessions, totals,
                          spool_folder=spool.folder if spool is not None else None)

        async def live_publications() -> int:
            return sum(node.live_rooms().values())

        readiness = ReadinessChecks(
            db.sessions, storage, timeout=config.ready_timeout_seconds,
            publications=live_publications, max_publications=config.max_publications,
            nats_connected=(lambda: cluster.connection.connected) if cluster else None)
        events = WebhookService(  # each delivery attempt counted in /metrics
            config, db, playback, node=config.resolved_node_id(),
            on_attempt=lambda outcome: metrics.webhook_deliveries.labels(outcome).inc())
        app.state.services = Services(
            config, db, apps, room_service, recordings, library, classes, jobs,
            processing, ice_credentials, lookup, playback, balances, plans,
            biller, scraper, readiness, events, cluster,
        )
        dialects = Backends(apps, library, classes, processing, playback, events)
        app.state.services.tencent = TencentDialect(dialects)
        app.state.services.tencent_v2 = LegacyDialect(dialects)
        if cluster is not None:
            _on_notices(cluster, lookup, node)
            await cluster.start()
            assert slots is not None
            await slots.start()
            served = NodeService(node, config, cluster.connection.client()
                                 if cluster.connection.connected else None)
            await served.start()  # its own connection when NATS was not there yet
            assert isinstance(media, NodeDirectory)
            await media.start(recordings.events)
            for child in media_children:  # their files are on this machine: they land here
                await media.client(child).start(recordings.events)
            reaper = NodeReaper(config, db.sessions, recordings, cluster.node_id,
                                _live_node_ids(cluster), media.answers)
            cluster.connection.on_connect(reaper.reconnected)
            reaper.start()
        runner = BillingRunner(biller, library.usage, db.sessions,
                               every=config.billing_run_seconds,
                               delay=config.billing_delay_seconds)
        runner.start()
        sweeper = Periodic("expiry sweep", config.expiry_sweep_seconds,
                           lambda: _sweep_expired(library))
        sweeper.start()
        clear_work_folder(config)
        traffic.start(library.usage, config.usage_flush_seconds)
        workers = WorkerPool(config)
        workers.start()
        app.state.workers = workers
        events.start()  # webhook deliveries (those a crash left too)
        app.state.media_stats = node.udp_stats
        try:
            yield
        finally:
            await events.stop()
            await sweeper.stop()
            await resumer.stop()
            if reaper is not None:
                await reaper.stop()
            await runner.stop()
            await workers.stop()
            await traffic.stop()
            await recordings.shutdown()
            if shipper is not None:
                await shipper.stop()
            if served is not None:  # ends this node's publications, delivers their events
                await served.stop()
            await media.stop()  # in a cluster, the directory: stop taking events
            if slots is not None:
                await slots.stop()
            if cluster is not None:
                await cluster.stop()
            if spool is not None:
                await spool.stop()
            await db.stop()
            storage.close()

    app = FastAPI(
        title="livetape", version=__version__, lifespan=lifespan,
        dependencies=[Depends(log_fields)],  # the room and recording on the log lines
        description="Recording for interactive live video: WHIP in, MP4 out, a VOD library.",
    )
    document(app)
    app.add_middleware(NulGuard)
    limits = {  # every other route: LIVETAPE_MAX_BODY_BYTES
        ("POST", whip.router.prefix): Limit(config.max_sdp_bytes, "MAX_SDP_BYTES"),
        ("PUT", f"{processing.router.prefix}/watermark"): Limit(config.watermark_max_bytes,
                                                               "WATERMARK_MAX_BYTES"),
    }
    app.add_middleware(BodyLimitMiddleware, routes=limits,
                       default=Limit(config.max_body_bytes, "MAX_BODY_BYTES"))
    app.add_middleware(TrafficMiddleware, meter=traffic)
    if config.trusted_proxies:  # else the client is the socket's peer, whatever it says
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=config.trusted_proxies)
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"],
        expose_headers=["Location", "ETag", "Content-Range", "Accept-Ranges", "Content-Length",
                        "X-Request-Id"],
    )
    app.add_middleware(RequestContext, metrics=metrics)  # outermost: every answer counted
    app.state.metrics = metrics

    install_error_handlers(app)

    for module in (rooms, ice, whip, record, vod, classes, processing, serving, app_settings,
                   billing, nodes, monitoring, web, console, tencent_cloud, webhooks):
        app.include_router(module.router)
    return app
