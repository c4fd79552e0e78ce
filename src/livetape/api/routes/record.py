"""POST /v1/record (start / stop), GET /v1/recordings (in progress) and GET
/v1/recordings/{id}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from livetape.api.deps import identity, server, services
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import ID_LENGTH, INT_MAX, TAG_LENGTH
from livetape.errors import Catalogue
from livetape.recording.record_request import parse_record_request

router = APIRouter(prefix="/v1", tags=["record"])

_EXAMPLE = {
    "operation": "start", "room_id": "class-1", "user_id": "alice", "file_name": "lesson-1",
    "src_type": "camera", "record_type": "video", "class_id": 0, "tags": ["math"],
    "transcode": False, "screenshot": False, "watermark": False,
}


class RecordBody(BaseModel):
    """The body, as OpenAPI shows it: it is parsed by hand (``recording/record_request.py``), each
    fault with its own code."""

    operation: Literal["start", "stop"]
    room_id: str = Field(min_length=1, max_length=ID_LENGTH)
    user_id: str | None = Field(None, min_length=1, max_length=ID_LENGTH,
                                description="server calls only: a user token implies it")
    src_type: Literal["camera", "screen"] = "camera"
    file_name: str | None = Field(None, min_length=1, pattern="^[^/]*$", description="start: "
                                  "required, at most LIVETAPE_MAX_FILE_NAME_LENGTH characters")
    record_type: Literal["video", "audio"] = "video"
    class_id: int = Field(0, ge=0, le=INT_MAX)
    tags: list[Annotated[str, Field(min_length=1, max_length=TAG_LENGTH)]] = Field(
        [], description="at most LIVETAPE_MAX_TAGS")
    transcode: bool = False
    screenshot: bool = False
    watermark: bool = False


_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": RecordBody.model_json_schema(), "example": _EXAMPLE,
}}}}


@router.post("/record", summary="Start or stop recording a participant's stream",
             openapi_extra=_BODY_DOC)
@raises(Catalogue.NO_BODY, Catalogue.PARSE_FAILURE, Catalogue.NO_FILE_NAME,
        Catalogue.NO_OPERATION, Catalogue.BAD_SRC_TYPE, Catalogue.NO_RECORD_PERMISSION,
        Catalogue.BALANCE_INSUFFICIENT, Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND,
        Catalogue.ROOM_NOT_FOUND, Catalogue.USER_NOT_IN_ROOM, Catalogue.NOT_RECORDING,
        Catalogue.ALREADY_ENDED, Catalogue.ALREADY_RECORDING, Catalogue.PAIR_ROOM)
async def record(
    request: Request, who: Annotated[Identity, Depends(identity)]
) -> dict[str, Any]:
    """Body fields as in the README; errors use the table's codes."""
    svc = services(request)
    parsed = parse_record_request(
        await request.body(), max_name=svc.settings.max_file_name_length,
        max_tags=svc.settings.max_tags,
    )
    result = await svc.recordings.handle(who, parsed)
    return {"code": 0, "message": "ok", **result}


@router.get("/recordings", summary="The app's recordings in progress")
async def list_recordings(
    request: Request, who: Annotated[Identity, Depends(server)]
) -> dict[str, Any]:
    """Oldest first: room, user, source, file name, ``elapsed_seconds``, ``segment`` (the
    number of the file being written; 0 until the first key frame), ``file_ids`` landed."""
    recordings = await services(request).recordings.in_progress(who.app_id)
    return {"code": 0, "message": "ok", "recordings": recordings}


@router.get("/recordings/{recording_id}", summary="A recording: state, reason, file ids")
@raises(Catalogue.NOT_FOUND)
async def get_recording(
    recording_id: str, request: Request, who: Annotated[Identity, Depends(identity)]
) -> dict[str, Any]:
    return await services(request).recordings.get(who.app_id, recording_id)
