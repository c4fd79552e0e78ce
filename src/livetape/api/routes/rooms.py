"""Rooms and tokens: POST /v1/tokens, POST/GET/DELETE /v1/rooms."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from livetape.api.deps import identity, server, services
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import ID_LENGTH, Input
from livetape.errors import Catalogue

router = APIRouter(prefix="/v1", tags=["rooms"])


class TokenRequest(Input):
    user_id: str = Field(min_length=1, max_length=ID_LENGTH)
    ttl_seconds: int | None = Field(None, gt=0)
    privileges: list[str] = ["record"]


class RoomRequest(Input):
    room_id: str | None = Field(None, min_length=1, max_length=ID_LENGTH,
                                pattern="^[^/]+$", description="default: a random id")
    type: Literal["multi", "pair"] = "multi"


@router.post("/tokens", summary="Mint a user token (server-side)")
@raises(Catalogue.INVALID_PARAMETER)
async def mint_token(
    body: TokenRequest, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    svc = services(request)
    app = await svc.apps.get(who.app_id)
    assert app is not None
    token, ttl = svc.apps.mint_token(app, body.user_id, body.ttl_seconds, body.privileges)
    return {"token": token, "app_id": app.app_id, "user_id": body.user_id, "ttl_seconds": ttl}


@router.post("/rooms", status_code=201, summary="Create a room")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.CONFLICT)
async def create_room(
    body: RoomRequest, request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    room = await services(request).rooms.create(who.app_id, body.room_id, body.type)
    return {"room_id": room.room_id, "type": room.type, "created_at": room.created_at.isoformat()}


@router.get("/rooms/{room_id}", summary="A room's members, streams and active recordings")
@raises(Catalogue.ROOM_NOT_FOUND)
async def get_room(
    room_id: str, request: Request, who: Annotated[Identity, Depends(identity)]
) -> dict[str, Any]:
    svc = services(request)
    room = await svc.rooms.get(who.app_id, room_id)
    members: dict[str, list[dict[str, Any]]] = {}
    for stream in await svc.rooms.streams(who.app_id, room_id):  # by user, then source
        members.setdefault(stream.user_id, []).append({
            "src_type": stream.src_type, "publication_id": stream.publication_id,
            "state": stream.state, "kinds": stream.kinds, "codecs": stream.codecs,
        })
    return {
        "room_id": room.room_id, "type": room.type, "created_at": room.created_at.isoformat(),
        "members": [{"user_id": u, "streams": s} for u, s in members.items()],
        "recordings": svc.recordings.active_in_room(who.app_id, room_id),
    }


@router.delete("/rooms/{room_id}", status_code=204, summary="Close a room")
@raises(Catalogue.ROOM_NOT_FOUND)
async def delete_room(
    room_id: str, request: Request, who: Annotated[Identity, Depends(server)]
) -> Response:
    svc = services(request)
    await svc.rooms.get(who.app_id, room_id)
    await svc.recordings.close_room(who.app_id, room_id)
    await svc.rooms.delete(who.app_id, room_id)
    return Response(status_code=204)
