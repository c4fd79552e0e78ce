"""What the API shows of an app: its settings, and its secret keys (masked)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from livetape.db.models import App


class WatermarkSetting(BaseModel):
    position: str = Field(description="top-left | top-right | bottom-left | bottom-right")


class AppSettingsView(BaseModel):
    """The app's settings, with the KEY that signs its play URLs."""

    app_id: str
    name: str
    sign_play_urls: bool
    play_key: str = Field(description="the anti-leech KEY")
    vod_activated: bool
    record_enabled: bool
    watermark: WatermarkSetting | None = Field(description="null: no watermark template")

    @classmethod
    def of(cls, app: App) -> AppSettingsView:
        return cls(
            app_id=app.app_id, name=app.name, sign_play_urls=app.sign_play_urls,
            play_key=app.play_key, vod_activated=app.vod_activated,
            record_enabled=app.record_enabled,
            watermark=WatermarkSetting(position=app.watermark_position)
            if app.watermark_key else None,
        )


class KeyView(BaseModel):
    """A secret key, masked, with its state."""

    key_id: str
    secret: str = Field(description="masked: its first and last 4 characters")
    state: str = Field(description="current | grace | expired | revoked")
    create_time: str
    expire_time: str | None
