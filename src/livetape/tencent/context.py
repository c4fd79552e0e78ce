"""What every action of the dialect is handed: the services the REST API uses (the same
objects: no second copy of any rule) and the verified call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from livetape.auth.apps import AppService
from livetape.errors import LivetapeError
from livetape.jobs.processing_service import ProcessingService
from livetape.library.class_tree import ClassTree
from livetape.library.files import Library
from livetape.playback.playback_service import PlaybackService
from livetape.tencent.dialect_errors import (
    FAILED_OPERATION,
    INVALID_PARAMETER_VALUE,
    DialectError,
    from_catalogue,
)
from livetape.webhooks.webhook_service import WebhookService

T = TypeVar("T")


@dataclass(frozen=True)
class Backends:
    """The services the dialect calls."""

    apps: AppService
    library: Library
    classes: ClassTree
    processing: ProcessingService
    playback: PlaybackService
    webhooks: WebhookService


@dataclass(frozen=True)
class Call:
    """One verified call: the app (its SecretId), the region it named, where play URLs point."""

    app_id: str
    region: str
    request_base: str

    def check_sub_app(self, sub_app_id: int | None) -> None:
        """``SubAppId``, when given, must be the app's own id (livetape has no sub-apps: each
        app has its own keys)."""
        own = int(self.app_id) if self.app_id.isdigit() else None  # leading zeros: a number
        if sub_app_id is not None and sub_app_id != own:
            raise DialectError(f"{INVALID_PARAMETER_VALUE}.SubAppId",
                               f"SubAppId {sub_app_id} is not this app ({self.app_id}): leave "
                               "it out, or sign with the other app's app_id and secret key")


async def catalogued(work: Callable[[], Awaitable[T]], *,
                     conflict: str = FAILED_OPERATION) -> T:
    """``work()``, with a catalogued failure turned into the dialect's code."""
    try:
        return await work()
    except LivetapeError as exc:
        raise from_catalogue(exc, conflict=conflict) from exc


Reply = dict[str, Any]
