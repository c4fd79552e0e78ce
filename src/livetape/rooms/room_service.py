"""Rooms: create / show / close, and joining them by publishing over WHIP."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.config import Settings
from livetape.db.models import Room
from livetape.errors import Catalogue, LivetapeError
from livetape.rooms.preroll import Preroll
from livetape.rooms.publication import Liveness, Publication
from livetape.rooms.registry import RoomRegistry
from livetape.rooms.room_view import MemberView, StreamView
from livetape.rooms.trickle import IceRestart, parse_sdpfrag

log = logging.getLogger(__name__)

ROOM_TYPES = ("multi", "pair")


class RoomService:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 registry: RoomRegistry) -> None:
        self._settings = settings
        self._sessions = sessions
        self.registry = registry
        self._liveness = Liveness(settings.connect_timeout_seconds,
                                  settings.disconnect_grace_seconds)

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

    def members(self, app_id: str, room_id: str) -> list[MemberView]:
        """Who publishes in the room now, and what."""
        live = self.registry.find(app_id, room_id)
        if live is None:
            return []
        return [MemberView(user_id=user_id, streams=[
            StreamView.of(live.publications[(user_id, src_type)]) for src_type in src_types])
            for user_id, src_types in live.members().items()]

    async def delete(self, app_id: str, room_id: str) -> None:
        room = await self.get(app_id, room_id)
        live = self.registry.drop(app_id, room_id)
        for publication in list(live.publications.values()) if live else []:
            await publication.close("room_closed")
        async with self._sessions() as session, session.begin():
            await session.delete(await session.merge(room))

    async def publish(self, app_id: str, room_id: str, user_id: str, src_type: str,
                      offer_sdp: str) -> tuple[Publication, str]:
        """Join ``user_id`` to the room with a stream; returns the publication and SDP answer.

        Every check and the slot's reservation happen with no ``await`` between them (the
        publication is in the registry before its answer is made), so concurrent offers
        cannot pass the limits together.
        """
        room = await self.get(app_id, room_id)
        live = self.registry.room(app_id, room_id)
        existing = live.publications.get((user_id, src_type))
        if existing is not None and not existing.closed:
            raise LivetapeError(Catalogue.CONFLICT, f"{user_id!r} already publishes {src_type}")
        limit = (self._settings.pair_room_max_members if room.type == "pair"
                 else self._settings.multi_room_max_members)
        members = live.members()
        if user_id not in members and len(members) >= limit:
            raise LivetapeError(Catalogue.CONFLICT, f"the room is full ({limit} members)")
        self._check_limits(app_id, user_id)
        preroll = Preroll(self._settings.preroll_seconds, self._settings.preroll_max_bytes)
        publication = Publication(app_id, room_id, user_id, src_type, self._liveness,
                                  preroll=preroll)
        publication.on_end(self._unregister)
        self.registry.add(publication)  # the slot is taken from here on
        try:
            answer = await publication.answer(offer_sdp)
        except Exception as exc:
            await publication.close("refused")
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"SDP offer refused: {exc}") from exc
        log.info("%s publishes %s in %s/%s (%s)", user_id, src_type, app_id, room_id,
                 publication.publication_id)
        return publication, answer

    def _check_limits(self, app_id: str, user_id: str) -> None:
        """Refuse a new publication past the server's, the app's or the user's limit."""
        settings = self._settings
        limits = (
            (self.registry.count(), settings.max_publications, "this server",
             "LIVETAPE_MAX_PUBLICATIONS"),
            (self.registry.count(app_id), settings.max_publications_per_app, "this app",
             "LIVETAPE_MAX_PUBLICATIONS_PER_APP"),
            (self.registry.count(app_id, user_id), settings.max_publications_per_user,
             f"user {user_id!r}", "LIVETAPE_MAX_PUBLICATIONS_PER_USER"),
        )
        for published, limit, whose, setting in limits:
            if limit is not None and published >= limit:
                raise LivetapeError(
                    Catalogue.SERVER_FULL, f"{whose} publishes {published} streams (limit {limit})",
                    hint=f"end a stream first (DELETE its WHIP session), or retry later; the "
                    f"limit is {setting}")

    async def _unregister(self, publication: Publication) -> None:
        self.registry.remove(publication)

    async def unpublish(self, app_id: str, room_id: str, publication_id: str) -> None:
        publication = self.registry.by_id(publication_id)
        if publication is None or (publication.app_id, publication.room_id) != (app_id, room_id):
            raise LivetapeError(Catalogue.NOT_FOUND, f"no WHIP session {publication_id!r}")
        await publication.close()

    async def trickle(self, app_id: str, room_id: str, publication_id: str,
                      user_id: str | None, if_match: str | None, sdpfrag: str) -> int:
        """Add the ICE candidates a WHIP client trickles (RFC 9725 section 4.3.1).

        ``user_id`` is the caller's (None for the app's server): a user reaches only their own
        sessions, like DELETE. ``if_match`` must name the session's ETag (or be ``*`` or
        absent). Returns how many candidates were added.
        """
        publication = self.registry.by_id(publication_id)
        if (publication is None
                or (publication.app_id, publication.room_id) != (app_id, room_id)
                or user_id not in (None, publication.user_id)):
            raise LivetapeError(Catalogue.NOT_FOUND, f"no WHIP session {publication_id!r}")
        if if_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
            # the ETag the WHIP POST answered with (api/routes/whip.py)
            if not tags & {"*", f'"{publication_id}"'}:
                raise LivetapeError(Catalogue.PRECONDITION_FAILED, f"If-Match: {if_match[:100]}")
        try:
            added = await publication.add_ice_candidates(parse_sdpfrag(sdpfrag))
        except IceRestart as exc:
            raise LivetapeError(Catalogue.ICE_RESTART_UNSUPPORTED, str(exc)) from exc
        except ValueError as exc:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"trickle ICE: {exc}") from exc
        log.info("publication %s: %d trickled candidate(s)", publication_id, added)
        return added

    async def shutdown(self) -> None:
        for publication in self.registry.all_publications():
            await publication.close("shutdown")
