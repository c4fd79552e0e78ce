"""Rooms and tokens: POST /v1/tokens, POST/GET/DELETE /v1/rooms."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from livetape.api.deps import identity, server, services
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import ID_LENGTH, Input
from livetape.errors import Catalogue
from livetape.recording.recording_view import RecordingView
from livetape.rooms.room_view import MemberView, RoomView

router = APIRouter(prefix="/v1", tags=["rooms"])


class TokenRequest(Input):
    user_id: str = Field(min_length=1, max_length=ID_LENGTH)
    ttl_seconds: int | None = Field(None, gt=0)
    privileges: list[str] = ["record"]


class RoomRequest(Input):
    room_id: str | None = Field(None, min_length=1, max_length=ID_LENGTH,
                                pattern="^[^/]+$", description="default: a random id")
    type: Literal["multi", "pair"] = "multi"


class MintedToken(BaseModel):
    """A user token (no envelope: the fields alone)."""

    token: str = Field(description="a JWT (HS256) signed with the app's secret key")
    app_id: str
    user_id: str
    ttl_seconds: int


class RoomDetail(RoomView):
    """A room (no envelope), with who publishes in it and the recordings running there."""

    members: list[MemberView]
    recordings: list[RecordingView]


@router.post("/tokens", summary="Mint a user token (server-side)")
@raises(Catalogue.INVALID_PARAMETER)
async def mint_token(
    body: TokenRequest, request: Request, who: Annotated[Identity, Depends(server)]
) -> MintedToken:
    svc = services(request)
    app = await svc.apps.get(who.app_id)
    assert app is not None
    token, ttl = svc.apps.mint_token(app, body.user_id, body.ttl_seconds, body.privileges)
    return MintedToken(token=token, app_id=app.app_id, user_id=body.user_id, ttl_seconds=ttl)


@router.post("/rooms", status_code=201, summary="Create a room")
@raises(Catalogue.INVALID_PARAMETER, Catalogue.CONFLICT)
async def create_room(
    body: RoomRequest, request: Request, who: Annotated[Identity, Depends(server)]
) -> RoomView:
    """No envelope: the room's fields alone."""
    return RoomView.of(await services(request).rooms.create(who.app_id, body.room_id, body.type))


@router.get("/rooms/{room_id}", summary="A room's members, streams and active recordings")
@raises(Catalogue.ROOM_NOT_FOUND)
async def get_room(
    room_id: str, request: Request, who: Annotated[Identity, Depends(identity)]
) -> RoomDetail:
    svc = services(request)
    room = RoomView.of(await svc.rooms.get(who.app_id, room_id))
    return RoomDetail(**room.model_dump(), members=await svc.rooms.members(who.app_id, room_id),
                      recordings=await svc.recordings.active_in_room(who.app_id, room_id))


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
