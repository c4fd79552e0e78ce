"""Request-scoped helpers: the app's services and the caller's identity."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request

from livetape import log_context
from livetape.api.openapi import raises
from livetape.auth.apps import AppService, Identity
from livetape.auth.console_sessions import ConsoleSessions
from livetape.auth.ice_credentials import IceCredentials
from livetape.billing.balance import Balances
from livetape.billing.bills import Biller
from livetape.billing.plans import PlanBook
from livetape.cluster.membership import ClusterMembership
from livetape.config import Settings
from livetape.db.session import Database
from livetape.errors import Catalogue, LivetapeError
from livetape.jobs.processing_service import ProcessingService
from livetape.jobs.queue import JobQueue
from livetape.library.class_tree import ClassTree
from livetape.library.files import Library
from livetape.monitoring.readiness import ReadinessChecks
from livetape.monitoring.scrape import Scraper
from livetape.playback.lookup import MediaLookup
from livetape.playback.playback_service import PlaybackService
from livetape.recording.recording_service import RecordingService
from livetape.rooms.room_service import RoomService
from livetape.tencent.dialect import TencentDialect
from livetape.tencent.legacy import LegacyDialect


@dataclass
class Services:
    """Everything the HTTP layer calls, owned by the FastAPI app (built in the lifespan)."""

    settings: Settings
    db: Database
    apps: AppService
    rooms: RoomService
    recordings: RecordingService
    library: Library
    classes: ClassTree
    jobs: JobQueue
    processing: ProcessingService
    ice: IceCredentials
    lookup: MediaLookup
    playback: PlaybackService
    balances: Balances
    plans: PlanBook
    biller: Biller
    scraper: Scraper
    readiness: ReadinessChecks
    cluster: ClusterMembership | None = None  # LIVETAPE_NATS_URL set: this node's part
    tencent: TencentDialect | None = None  # the original's API 3.0 (POST / with X-TC-Action)
    tencent_v2: LegacyDialect | None = None  # its 2017 DescribeVodPlayInfo (/v2/index.php)


CONSOLE_COOKIE = "livetape_console"  # the web console's session (HttpOnly, SameSite=Strict)
CONSOLE_HEADER = "X-Livetape-Console"  # requests the cookie authenticates must carry it


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def console_sessions(request: Request) -> ConsoleSessions:
    svc = services(request)
    return ConsoleSessions(svc.apps, svc.settings.console_session_seconds)


@raises(Catalogue.UNAUTHORIZED)
async def identity(request: Request) -> Identity:
    """Any authenticated caller: the app server (secret key, or a web console session) or a
    user (token).

    Without an Authorization header, the console's session cookie stands for the secret key,
    but only on requests carrying ``X-Livetape-Console: 1``: a page on another site cannot
    add that header without a CORS preflight, and livetape grants none with credentials.
    """
    token = bearer(request)
    session = request.cookies.get(CONSOLE_COOKIE)
    if token is None and session:
        if request.headers.get(CONSOLE_HEADER) != "1":
            raise LivetapeError(Catalogue.UNAUTHORIZED,
                                f"a console session needs the {CONSOLE_HEADER}: 1 header",
                                hint="call the API from the console's own page, or send "
                                "'Authorization: Bearer <secret_key>'")
        who = await console_sessions(request).verify(session)
    else:
        who = await services(request).apps.authenticate(token)
    log_context.bind(app_id=who.app_id)  # on the request's log lines from here on
    return who


async def log_fields(request: Request) -> None:
    """Every route: its room and recording (path parameters) on the request's log lines."""
    params = request.path_params
    log_context.bind(room_id=params.get("room_id"), recording_id=params.get("recording_id"))


@raises(Catalogue.UNAUTHORIZED)
async def server(request: Request) -> Identity:
    """Only the app's server (``Authorization: Bearer <secret_key>``, or a console session)."""
    who = await identity(request)
    if not who.is_server:
        raise LivetapeError(Catalogue.UNAUTHORIZED, "this call needs the app's secret key")
    return who


@raises(Catalogue.UNAUTHORIZED)
def operator(request: Request) -> None:
    """Only the operator (``Authorization: Bearer <LIVETAPE_OPERATOR_KEY>``)."""
    configured = services(request).settings.operator_key
    given = bearer(request) or ""
    if not configured or not hmac.compare_digest(given.encode(), configured.encode()):
        raise LivetapeError(Catalogue.UNAUTHORIZED, "this call needs the operator key",
                            hint="set LIVETAPE_OPERATOR_KEY on the server and send it as "
                            "'Authorization: Bearer <operator key>'")
