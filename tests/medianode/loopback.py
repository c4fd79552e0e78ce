"""A :class:`MediaNode` whose every call crosses JSON, as it will cross a message bus: the
requests, the answers, the events and the refusals (as :class:`NodeFailure`). The contract
suite runs over it to show nothing but plain values crosses the seam."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from pydantic import BaseModel

from livetape.errors import LivetapeError
from livetape.medianode.failure import NodeFailure
from livetape.medianode.interface import (
    LiveStream,
    MediaNode,
    PublishAnswer,
    PublishOffer,
    RecorderStart,
    RecorderStarted,
    RecorderStats,
    RecorderStopped,
    RecordingEvents,
    TrickleRequest,
)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def _wire(value: Any) -> Any:
    """``value`` as the other side reads it: JSON text and back."""
    if isinstance(value, BaseModel):
        return type(value).model_validate_json(value.model_dump_json())
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return json.loads(json.dumps(value))


async def _reply(call: Awaitable[T]) -> T:
    try:
        result = await call
    except LivetapeError as exc:
        raise NodeFailure.model_validate_json(NodeFailure.of(exc).model_dump_json()).error() \
            from None
    wired: T = _wire(result)
    return wired


class _JsonEvents:
    def __init__(self, events: RecordingEvents) -> None:
        self._events = events

    async def segment_opened(self, recording_id: str, seq: int, part: str) -> None:
        await self._events.segment_opened(*_wire([recording_id, seq, part]))

    async def segment_closed(self, recording_id: str, seq: int, part: str) -> None:
        await self._events.segment_closed(*_wire([recording_id, seq, part]))

    async def recording_ended(self, recording_id: str, reason: str) -> None:
        await self._events.recording_ended(*_wire([recording_id, reason]))


class JsonLoopbackNode:
    def __init__(self, inner: MediaNode) -> None:
        self._inner = inner

    @property
    def node_id(self) -> str:
        return self._inner.node_id

    async def start(self, events: RecordingEvents) -> None:
        await self._inner.start(_JsonEvents(events))

    async def stop(self) -> None:
        await self._inner.stop()

    async def publish(self, offer: PublishOffer) -> PublishAnswer:
        return await _reply(self._inner.publish(_wire(offer)))

    async def trickle(self, request: TrickleRequest) -> int:
        return await _reply(self._inner.trickle(_wire(request)))

    async def unpublish(self, app_id: str, room_id: str, publication_id: str,
                        user_id: str | None) -> None:
        await _reply(self._inner.unpublish(*_wire([app_id, room_id, publication_id, user_id])))

    async def close_room(self, app_id: str, room_id: str) -> None:
        await _reply(self._inner.close_room(*_wire([app_id, room_id])))

    async def streams(self, app_id: str, room_id: str | None = None) -> list[LiveStream]:
        return await _reply(self._inner.streams(*_wire([app_id, room_id])))

    async def start_recording(self, start: RecorderStart) -> RecorderStarted:
        return await _reply(self._inner.start_recording(_wire(start)))

    async def stop_recording(self, recording_id: str,
                             reason: str = "stopped") -> RecorderStopped:
        return await _reply(self._inner.stop_recording(*_wire([recording_id, reason])))

    async def recording_stats(self, recording_id: str) -> RecorderStats | None:
        return await _reply(self._inner.recording_stats(_wire(recording_id)))
