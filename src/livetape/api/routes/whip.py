"""WHIP (RFC 9725): POST an SDP offer to publish into a room, DELETE the session to leave."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from livetape.api.deps import identity, services
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.bounds import ID_LENGTH
from livetape.errors import Catalogue, LivetapeError

SDPFRAG = "application/trickle-ice-sdpfrag"  # a trickle PATCH's body (RFC 8840)

router = APIRouter(prefix="/v1/rooms/{room_id}/whip", tags=["whip"])

SDP = "application/sdp"


# Plain OPTIONS (RFC 9725 section 4.2; CORS preflights are answered by the middleware). Some
# browser WHIP libraries read Access-Control-Allow-Methods here to decide whether to trickle.
@router.options("", include_in_schema=False)
async def options() -> Response:
    return Response(status_code=204, headers={
        "Accept-Post": SDP, "Allow": "OPTIONS, POST",
        "Access-Control-Allow-Methods": "OPTIONS, POST, PATCH, DELETE",
    })


@router.options("/{publication_id}", include_in_schema=False)
async def session_options() -> Response:
    return Response(status_code=204, headers={
        "Accept-Patch": SDPFRAG, "Allow": "OPTIONS, PATCH, DELETE",
        "Access-Control-Allow-Methods": "OPTIONS, PATCH, DELETE",
    })


@router.post(
    "", status_code=201, summary="Publish a stream (WHIP)",
    responses={201: {"content": {SDP: {}}, "description": "SDP answer; Location = session"}},
)
@raises(Catalogue.INVALID_PARAMETER, Catalogue.ROOM_NOT_FOUND, Catalogue.CONFLICT,
        Catalogue.SERVER_FULL)
async def publish(
    room_id: str, request: Request, who: Annotated[Identity, Depends(identity)],
    src_type: Annotated[str, Query(pattern="^(camera|screen)$")] = "camera",
    user_id: Annotated[str | None, Query(min_length=1, max_length=ID_LENGTH)] = None,
) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != SDP:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, f"Content-Type must be {SDP}")
    publisher = who.acting_user(user_id)
    offer = (await request.body()).decode("utf-8", "replace")
    if "m=" not in offer:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, "the body is not an SDP offer")
    answer = await services(request).rooms.publish(
        who.app_id, room_id, publisher, src_type, offer
    )
    location = f"/v1/rooms/{room_id}/whip/{answer.publication_id}"
    return Response(answer.answer_sdp, status_code=201, media_type=SDP,
                    headers={"Location": location, "ETag": answer.etag})


@router.patch(
    "/{publication_id}", status_code=204, summary="Trickle ICE candidates (WHIP PATCH)",
    response_class=Response, responses={204: {"description": "candidates added"}},
)
@raises(Catalogue.INVALID_PARAMETER, Catalogue.NOT_FOUND, Catalogue.PRECONDITION_FAILED,
        Catalogue.ICE_RESTART_UNSUPPORTED)
async def trickle(
    room_id: str, publication_id: str, request: Request,
    who: Annotated[Identity, Depends(identity)],
) -> Response:
    """RFC 9725 section 4.3.1: the body (``application/trickle-ice-sdpfrag``) carries the
    client's ICE candidates gathered after its offer; 204 once added. ICE restarts answer
    422."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != SDPFRAG:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, f"Content-Type must be {SDPFRAG}")
    sdpfrag = (await request.body()).decode("utf-8", "replace")
    await services(request).rooms.trickle(
        who.app_id, room_id, publication_id, who.user_id, request.headers.get("if-match"),
        sdpfrag,
    )
    return Response(status_code=204)


@router.delete("/{publication_id}", summary="Leave (end a WHIP session)",
               response_class=Response, responses={200: {"description": "the session ended"}})
@raises(Catalogue.NOT_FOUND)
async def leave(
    room_id: str, publication_id: str, request: Request,
    who: Annotated[Identity, Depends(identity)],
) -> Response:
    await services(request).rooms.unpublish(who.app_id, room_id, publication_id, who.user_id)
    return Response(status_code=200)
