"""The app's own settings and keys: VOD activation, the recording switch, signed play URLs (the
anti-leech key); the watermark template is shown here and set in ``api/processing``."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlalchemy import update

from livetape.api.deps import server, services
from livetape.api.openapi import raises
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


def _describe(app: App) -> dict[str, Any]:
    return {
        "code": 0, "message": "ok", "app_id": app.app_id, "name": app.name,
        "sign_play_urls": app.sign_play_urls, "play_key": app.play_key,
        "vod_activated": app.vod_activated, "record_enabled": app.record_enabled,
        "watermark": {"position": app.watermark_position} if app.watermark_key else None,
    }


async def _app(request: Request, app_id: str) -> App:
    app = await services(request).apps.get(app_id)
    if app is None:  # deleted under the caller
        raise LivetapeError(Catalogue.NOT_FOUND, f"no app {app_id!r}")
    return app


@router.get("/app", summary="The app's settings (with the KEY that signs play URLs)")
@raises(Catalogue.NOT_FOUND)
async def get_app(request: Request, who: Annotated[Identity, Depends(server)]) -> dict[str, Any]:
    return _describe(await _app(request, who.app_id))


@router.patch("/app", summary="Change the app's settings")
@raises(Catalogue.NOT_FOUND)
async def patch_app(
    body: AppUpdate, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("sign_play_urls", "vod_activated", "record_enabled"):
        if getattr(body, name) is not None:
            values[name] = getattr(body, name)
    if body.rotate_play_key:
        values["play_key"] = secrets.token_hex(16)
    if values:
        async with services(request).db.sessions() as session, session.begin():
            await session.execute(update(App).where(App.app_id == who.app_id).values(**values))
        services(request).lookup.forget_app(who.app_id)
    return _describe(await _app(request, who.app_id))


MAX_GRACE_SECONDS = 100 * 365 * 86400  # a century; far longer would overflow the expiry date


class Rotation(Input):
    grace_seconds: int | None = Field(
        None, ge=0, le=MAX_GRACE_SECONDS, description="how long the old key keeps working "
        "[LIVETAPE_KEY_GRACE_SECONDS]",
    )


@router.get("/app/keys", summary="The app's secret keys, masked, with their state")
async def list_keys(request: Request, who: Annotated[Identity, Depends(server)]) -> dict[str, Any]:
    keys = await services(request).apps.keys.list(who.app_id)
    return {"code": 0, "message": "ok", "keys": keys}


@router.post("/app/keys/rotate",
             summary="A new current secret key (shown once); the old one works for a grace period")
@raises(Catalogue.NOT_FOUND)
async def rotate_key(
    body: Rotation, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    svc = services(request)
    grace = svc.settings.key_grace_seconds if body.grace_seconds is None else body.grace_seconds
    key, secret = await svc.apps.keys.rotate(who.app_id, grace)
    return {"code": 0, "message": "ok", "key_id": key.key_id, "secret_key": secret,
            "old_key_grace_seconds": grace}


@router.delete("/app/keys/{key_id}", summary="Revoke a key at once (not the current one)")
@raises(Catalogue.NOT_FOUND, Catalogue.CONFLICT)
async def revoke_key(
    key_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    await services(request).apps.keys.revoke(who.app_id, key_id)
    return {"code": 0, "message": "ok", "key_id": key_id}
