"""Request-scoped helpers: the app's services and the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ..config import Settings
from ..db.session import Database
from ..errors import Catalogue, LivetapeError
from ..service.apps import AppService, Identity
from ..service.recording import RecordingService
from ..service.rooms import RoomService
from ..vod.classes import ClassTree
from ..vod.library import Library


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


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def identity(request: Request) -> Identity:
    """Any authenticated caller: the app server (secret key) or a user (token)."""
    return await services(request).apps.authenticate(bearer(request))


async def server(request: Request) -> Identity:
    """Only the app's server (``Authorization: Bearer <secret_key>``)."""
    who = await identity(request)
    if not who.is_server:
        raise LivetapeError(Catalogue.UNAUTHORIZED, "this call needs the app's secret key")
    return who


def base_url(request: Request) -> str:
    """Where absolute URLs point: the configured public URL or the URL the request came to."""
    configured = services(request).settings.public_url
    return (configured or str(request.base_url)).rstrip("/")
