"""What the API shows of a room: the room, its members and the streams they publish."""

from __future__ import annotations

from pydantic import BaseModel, Field

from livetape.db.models import Room
from livetape.medianode.interface import LiveStream


class RoomView(BaseModel):
    room_id: str
    type: str = Field(description="multi | pair")
    created_at: str

    @classmethod
    def of(cls, room: Room) -> RoomView:
        return cls(room_id=room.room_id, type=room.type, created_at=room.created_at.isoformat())


class StreamView(BaseModel):
    """A stream a member publishes (one WHIP session)."""

    src_type: str = Field(description="camera | screen")
    publication_id: str
    state: str = Field(description="connecting | connected | closed")
    kinds: list[str] = Field(description="audio, video")
    codecs: dict[str, str | None] = Field(description="by kind: opus, h264, vp8")

    @classmethod
    def of(cls, stream: LiveStream) -> StreamView:
        return cls(src_type=stream.src_type, publication_id=stream.publication_id,
                   state=stream.state, kinds=list(stream.kinds), codecs=dict(stream.codecs))


class MemberView(BaseModel):
    """A user publishing in the room, with their streams."""

    user_id: str
    streams: list[StreamView]
