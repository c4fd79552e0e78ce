"""The app's own settings and keys: VOD activation, the recording switch, signed play URLs (the
anti-leech key); the watermark template is shown here and set in ``api/routes/processing``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from livetape.api.deps import server, services
from livetape.api.envelope import Envelope
from livetape.api.openapi import raises
from livetape.auth.app_views import AppSettingsView, KeyView
from livetape.auth.apps import Identity
from livetape.bounds import Input
from livetape.db.models import App
from livetape.errors import Catalogue, LivetapeError

router = APIRouter(prefix="/v1", tags=["app"])


class AppUpdate(Input):
    sign_play_urls: bool | None = Field(
        None, description="sign play URLs (t/exper/rlimit/us/sign); unsigned requests get 403"
    )
    rotate_play_key: bool = Field(False, description="new anti-leech KEY: old URLs stop working")
    vod_activated: bool | None = Field(None, description="recording needs VOD activated")
    record_enabled: bool | None = Field(None, description="the app's recording switch")


class AppAnswer(AppSettingsView, Envelope):
    """The app's settings."""


class KeyList(Envelope):
    keys: list[KeyView]


class KeyRotated(Envelope):
    key_id: str
    secret_key: str = Field(description="the new secret key: shown this once")
    old_key_grace_seconds: int


class KeyRevoked(Envelope):
    key_id: str


def _answer(app: App | None, app_id: str) -> AppAnswer:
    if app is None:  # deleted under the caller
        raise LivetapeError(Catalogue.NOT_FOUND, f"no app {app_id!r}")
    return AppAnswer(**AppSettingsView.of(app).model_dump())


@router.get("/app", summary="The app's settings (with the KEY that signs play URLs)")
@raises(Catalogue.NOT_FOUND)
async def get_app(request: Request, who: Annotated[Identity, Depends(server)]) -> AppAnswer:
    return _answer(await services(request).apps.get(who.app_id), who.app_id)


@router.patch("/app", summary="Change the app's settings")
@raises(Catalogue.NOT_FOUND)
async def patch_app(
    body: AppUpdate, request: Request, who: Annotated[Identity, Depends(server)]
) -> AppAnswer:
    app = await services(request).apps.update_settings(
        who.app_id, sign_play_urls=body.sign_play_urls, vod_activated=body.vod_activated,
        record_enabled=body.record_enabled, rotate_play_key=body.rotate_play_key)
    return _answer(app, who.app_id)


MAX_GRACE_SECONDS = 100 * 365 * 86400  # a century; far longer would overflow the expiry date


class Rotation(Input):
    grace_seconds: int | None = Field(
        None, ge=0, le=MAX_GRACE_SECONDS, description="how long the old key keeps working "
        "[LIVETAPE_KEY_GRACE_SECONDS]",
    )


@router.get("/app/keys", summary="The app's secret keys, masked, with their state")
async def list_keys(request: Request, who: Annotated[Identity, Depends(server)]) -> KeyList:
    return KeyList(keys=await services(request).apps.keys.list(who.app_id))


@router.post("/app/keys/rotate",
             summary="A new current secret key (shown once); the old one works for a grace period")
@raises(Catalogue.NOT_FOUND)
async def rotate_key(
    body: Rotation, request: Request, who: Annotated[Identity, Depends(server)]
) -> KeyRotated:
    svc = services(request)
    grace = svc.settings.key_grace_seconds if body.grace_seconds is None else body.grace_seconds
    key, secret = await svc.apps.keys.rotate(who.app_id, grace)
    return KeyRotated(key_id=key.key_id, secret_key=secret, old_key_grace_seconds=grace)


@router.delete("/app/keys/{key_id}", summary="Revoke a key at once (not the current one)")
@raises(Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def revoke_key(
    key_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> KeyRevoked:
    await services(request).apps.keys.revoke(who.app_id, key_id)
    return KeyRevoked(key_id=key_id)
