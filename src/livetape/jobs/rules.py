"""Processing rules shared by the HTTP API, the recording service and the jobs a recorded file
gets: what an app must have before processing is asked of it, where snapshots are taken."""

from __future__ import annotations

from livetape.config import Settings
from livetape.db.models import App
from livetape.errors import Catalogue, LivetapeError


def require_watermark(app: App | None) -> None:
    """Watermarking needs the app's watermark template (start recording checks it too)."""
    if app is None or not app.watermark_key:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, "the app has no watermark: upload a "
                            "PNG with PUT /v1/vod/watermark first")


def interval_offsets(duration: float, settings: Settings) -> list[int]:
    """Snapshot offsets (ms) every ``record_snapshot_interval_seconds`` from 0, capped."""
    step = int(settings.record_snapshot_interval_seconds * 1000)
    return list(range(0, int(duration * 1000), step))[: settings.max_snapshots]
