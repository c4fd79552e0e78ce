"""What an app must have before processing is asked of it (the HTTP API and the recording
service check the same rules)."""

from __future__ import annotations

from livetape.db.models import App
from livetape.errors import Catalogue, LivetapeError


def require_watermark(app: App | None) -> None:
    """Watermarking needs the app's watermark template (start recording checks it too)."""
    if app is None or not app.watermark_key:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, "the app has no watermark: upload a "
                            "PNG with PUT /v1/vod/watermark first")
