"""Rooms: create / show / close (rows in the database), and joining them by publishing over
WHIP (on the media node)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.config import Settings
from livetape.db.models import Room
from livetape.errors import Catalogue, LivetapeError
from livetape.medianode.interface import (
    LiveStream,
    MediaNode,
    PublishAnswer,
    PublishOffer,
    TrickleRequest,
)
from livetape.rooms.room_view import MemberView, StreamView

log = logging.getLogger(__name__)

ROOM_TYPES = ("multi", "pair")


class RoomService:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 node: MediaNode,
                 announce: Callable[[str, dict[str, str]], None] | None = None,
                 published: Callable[[str, str, str, str], None] | None = None) -> None:
        self._settings = settings
        self._sessions = sessions
        self._node = node
        self._announce = announce  # a cluster: the nodes holding other publishers end them
        self._published = published  # told (app, room, user, source) of each new stream

    async def create(self, app_id: str, room_id: str | None, room_type: str) -> Room:
        if room_type not in ROOM_TYPES:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"type must be one of {ROOM_TYPES}")
        room_id = room_id or secrets.token_hex(6)
        if not 0 < len(room_id) <= 64 or "/" in room_id:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, "room_id: 1-64 characters, no '/'")
        room = Room(app_id=app_id, room_id=room_id, type=room_type)
        try:
            async with self._sessions() as session, session.begin():
                session.add(room)
        except IntegrityError as exc:
            raise LivetapeError(Catalogue.CONFLICT, f"room {room_id!r} exists") from exc
        return room

    async def get(self, app_id: str, room_id: str) -> Room:
        async with self._sessions() as session:
            room = await session.get(Room, (app_id, room_id))
        if room is None:
            raise LivetapeError(Catalogue.ROOM_NOT_FOUND, f"room {room_id!r}")
        return room

    async def members(self, app_id: str, room_id: str) -> list[MemberView]:
        """Who publishes in the room now, and what (by user, then source, as the node lists)."""
        members: dict[str, list[StreamView]] = {}
        for stream in await self.streams(app_id, room_id):
            members.setdefault(stream.user_id, []).append(StreamView.of(stream))
        return [MemberView(user_id=user, streams=streams) for user, streams in members.items()]

    async def delete(self, app_id: str, room_id: str) -> None:
        room = await self.get(app_id, room_id)
        await self._node.close_room(app_id, room_id)
        if self._announce is not None:
            self._announce("room_closed", {"app_id": app_id, "room_id": room_id})
        async with self._sessions() as session, session.begin():
            await session.delete(await session.merge(room))

    async def publish(self, app_id: str, room_id: str, user_id: str, src_type: str,
                      offer_sdp: str) -> PublishAnswer:
        """Join ``user_id`` to the room with a stream on the media node; the room's type sets
        how many members it admits."""
        room = await self.get(app_id, room_id)
        limit = (self._settings.pair_room_max_members if room.type == "pair"
                 else self._settings.multi_room_max_members)
        answer = await self._node.publish(PublishOffer(
            app_id=app_id, room_id=room_id, user_id=user_id, src_type=src_type,
            offer_sdp=offer_sdp, member_limit=limit,
        ))
        if self._published is not None:  # (a recording it may resume)
            self._published(app_id, room_id, user_id, src_type)
        return answer

    async def unpublish(self, app_id: str, room_id: str, publication_id: str,
                        user_id: str | None) -> None:
        """End a WHIP session; a user (``user_id``; None for the app's server) ends only their
        own."""
        await self._node.unpublish(app_id, room_id, publication_id, user_id)

    async def trickle(self, app_id: str, room_id: str, publication_id: str,
                      user_id: str | None, if_match: str | None, sdpfrag: str) -> int:
        """Add the ICE candidates a WHIP client trickles (RFC 9725 section 4.3.1).

        ``user_id`` is the caller's (None for the app's server): a user reaches only their own
        sessions, like DELETE. ``if_match`` must name the session's ETag (or be ``*`` or
        absent). Returns how many candidates were added.
        """
        return await self._node.trickle(TrickleRequest(
            app_id=app_id, room_id=room_id, publication_id=publication_id, user_id=user_id,
            if_match=if_match, sdpfrag=sdpfrag,
        ))

    async def streams(self, app_id: str, room_id: str) -> list[LiveStream]:
        """The room's live streams, by user and source."""
        return await self._node.streams(app_id, room_id)
