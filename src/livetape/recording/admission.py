"""May this app start a recording? The app's own conditions, in the order the API has always
checked them: VOD activated, recording switched on, a positive balance (when billing is
enforced), the class exists, and a watermark template when the recording asks for one."""

from __future__ import annotations

from livetape.auth.apps import AppService
from livetape.billing.balance import Balances
from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError
from livetape.jobs.rules import require_watermark
from livetape.library.class_tree import ClassTree
from livetape.recording.record_request import RecordRequest


class RecordingAdmission:
    def __init__(self, settings: Settings, apps: AppService, balances: Balances,
                 classes: ClassTree) -> None:
        self._settings = settings
        self._apps, self._balances, self._classes = apps, balances, classes

    async def check(self, app_id: str, request: RecordRequest) -> None:
        """Raise the catalogue's error for the first condition the app does not meet."""
        app = await self._apps.get(app_id)
        if app is not None and not app.vod_activated:
            raise LivetapeError(Catalogue.NO_RECORD_PERMISSION, "VOD is not activated for this app",
                                hint="activate VOD: `livetape app vod activate APP_ID` or "
                                "PATCH /v1/app {\"vod_activated\": true}")
        if app is not None and not app.record_enabled:
            raise LivetapeError(Catalogue.NO_RECORD_PERMISSION, "recording is off for this app",
                                hint="PATCH /v1/app {\"record_enabled\": true}")
        if self._settings.billing_enforce and await self._balances.balance(app_id) <= 0:
            raise LivetapeError(Catalogue.BALANCE_INSUFFICIENT,
                                "the app's balance is at or below zero",
                                hint="top up: `livetape billing topup APP_ID AMOUNT`")
        if not await self._classes.exists(app_id, request.class_id):
            raise LivetapeError(Catalogue.NOT_FOUND, f"no class {request.class_id}")
        if request.watermark:
            require_watermark(app)
