"""POST /v1/record (start / stop), GET /v1/recordings (in progress) and GET
/v1/recordings/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from livetape.api.deps import identity, server, services
from livetape.api.envelope import Envelope
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.errors import Catalogue
from livetape.recording.record_request import EXAMPLE, RecordRequest, parse_record_request
from livetape.recording.recording_view import (
    RecordingDetail,
    RecordingProgress,
    RecordingStarted,
    RecordingStopped,
)

router = APIRouter(prefix="/v1", tags=["record"])


class RecordStarted(RecordingStarted, Envelope):
    """``operation: start``: the new recording's id."""


class RecordStopped(RecordingStopped, Envelope):
    """``operation: stop``: the recording's id and the library files it made."""


class RecordingList(Envelope):
    recordings: list[RecordingProgress]


# the body is read raw and validated by RecordRequest (its faults answer the table's codes,
# not 1000): OpenAPI shows that model
_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": RecordRequest.model_json_schema(), "example": EXAMPLE,
}}}}


@router.post("/record", summary="Start or stop recording a participant's stream",
             openapi_extra=_BODY_DOC, response_model=RecordStarted | RecordStopped)
@raises(Catalogue.NO_BODY, Catalogue.PARSE_FAILURE, Catalogue.NO_FILE_NAME,
        Catalogue.NO_OPERATION, Catalogue.BAD_SRC_TYPE, Catalogue.NO_RECORD_PERMISSION,
        Catalogue.BALANCE_INSUFFICIENT, Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND,
        Catalogue.ROOM_NOT_FOUND, Catalogue.USER_NOT_IN_ROOM, Catalogue.NOT_RECORDING,
        Catalogue.ALREADY_ENDED, Catalogue.ALREADY_RECORDING, Catalogue.PAIR_ROOM)
async def record(
    request: Request, who: Annotated[Identity, Depends(identity)]
) -> RecordStarted | RecordStopped:
    """Body fields as in the README; errors use the table's codes."""
    svc = services(request)
    parsed = parse_record_request(
        await request.body(), max_name=svc.settings.max_file_name_length,
        max_tags=svc.settings.max_tags,
    )
    result = await svc.recordings.handle(who, parsed)
    if isinstance(result, RecordingStopped):
        return RecordStopped(**result.model_dump())
    return RecordStarted(**result.model_dump())


@router.get("/recordings", summary="The app's recordings in progress")
async def list_recordings(
    request: Request, who: Annotated[Identity, Depends(server)]
) -> RecordingList:
    """Oldest first: room, user, source, file name, ``elapsed_seconds``, ``segment`` (the
    number of the file being written; 0 until the first key frame), ``file_ids`` landed."""
    recordings = await services(request).recordings.in_progress(who.app_id)
    return RecordingList(recordings=recordings)


@router.get("/recordings/{recording_id}", summary="A recording: state, reason, file ids",
            response_model_exclude_unset=True)
@raises(Catalogue.NOT_FOUND)
async def get_recording(
    recording_id: str, request: Request, who: Annotated[Identity, Depends(identity)]
) -> RecordingDetail:
    """No envelope: the recording's fields alone; ``received``, ``written`` and ``dropped``
    only while it runs."""
    return await services(request).recordings.get(who.app_id, recording_id)
