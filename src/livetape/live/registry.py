"""Live room state: who is in which room and what they publish (this process's view).

Rooms themselves are rows in the database; membership exists only while a participant's
peer connection does, so it lives here, owned by the app (no module-level state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from livetape.live.publication import Publication


@dataclass
class LiveRoom:
    app_id: str
    room_id: str
    publications: dict[tuple[str, str], Publication] = field(default_factory=dict)

    def members(self) -> dict[str, list[str]]:
        """user_id -> the source types the user publishes."""
        out: dict[str, list[str]] = {}
        for user_id, src_type in sorted(self.publications):
            out.setdefault(user_id, []).append(src_type)
        return out


class RoomRegistry:
    """Maps (app_id, room_id) to its live state."""

    def __init__(self) -> None:
        self._rooms: dict[tuple[str, str], LiveRoom] = {}

    def room(self, app_id: str, room_id: str) -> LiveRoom:
        key = (app_id, room_id)
        if key not in self._rooms:
            self._rooms[key] = LiveRoom(app_id, room_id)
        return self._rooms[key]

    def find(self, app_id: str, room_id: str) -> LiveRoom | None:
        return self._rooms.get((app_id, room_id))

    def drop(self, app_id: str, room_id: str) -> LiveRoom | None:
        return self._rooms.pop((app_id, room_id), None)

    def publication(
        self, app_id: str, room_id: str, user_id: str, src_type: str
    ) -> Publication | None:
        room = self._rooms.get((app_id, room_id))
        return room.publications.get((user_id, src_type)) if room else None

    def by_id(self, publication_id: str) -> Publication | None:
        for room in self._rooms.values():
            for publication in room.publications.values():
                if publication.publication_id == publication_id:
                    return publication
        return None

    def add(self, publication: Publication) -> None:
        room = self.room(publication.app_id, publication.room_id)
        room.publications[(publication.user_id, publication.src_type)] = publication

    def remove(self, publication: Publication) -> None:
        room = self._rooms.get((publication.app_id, publication.room_id))
        key = (publication.user_id, publication.src_type)
        if room and room.publications.get(key) is publication:
            del room.publications[key]

    def all_publications(self) -> list[Publication]:
        return [p for room in self._rooms.values() for p in room.publications.values()]

    def count(self, app_id: str | None = None, user_id: str | None = None) -> int:
        """Live publications (connecting ones included), of one app and one user if given."""
        return sum(
            1 for p in self.all_publications()
            if app_id in (None, p.app_id) and user_id in (None, p.user_id)
        )
