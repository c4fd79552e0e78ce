"""GET /v1/ice-servers: the STUN and TURN servers a publisher should use, with TURN
credentials minted for its user (the SDKs call it before publishing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from livetape.api.deps import identity, services
from livetape.api.envelope import Envelope
from livetape.api.openapi import raises
from livetape.auth.apps import Identity
from livetape.auth.ice_credentials import IceServer
from livetape.bounds import ID_LENGTH
from livetape.errors import Catalogue

router = APIRouter(prefix="/v1", tags=["rooms"])


class IceServers(Envelope):
    ice_servers: list[IceServer] = Field(description="RTCConfiguration.iceServers; empty when "
                                         "the server has no STUN or TURN configured")
    ttl_seconds: int = Field(description="how long the TURN credentials work")


@router.get("/ice-servers", summary="ICE servers (STUN, TURN with credentials) for publishing")
@raises(Catalogue.INVALID_PARAMETER)
async def ice_servers(
    request: Request, who: Annotated[Identity, Depends(identity)],
    user_id: Annotated[str | None, Query(min_length=1, max_length=ID_LENGTH,
                                         description="server calls: the publishing user")] = None,
) -> IceServers:
    """A user token gets servers for its own user; the app's secret key names the user."""
    ice = services(request).ice
    servers = ice.for_user(who.acting_user(user_id))
    return IceServers(ice_servers=servers, ttl_seconds=ice.ttl_seconds)
