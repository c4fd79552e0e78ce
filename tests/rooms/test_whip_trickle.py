"""WHIP trickle ICE (RFC 9725 section 4.3.1): PATCH a session with an sdpfrag of candidates.

A real publisher holds a live session; the PATCHes are real HTTP. That a trickling client
(GStreamer's simple-whip-client) connects and is recorded is in test_whip_clients.py.
"""

from __future__ import annotations

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import publishing
from livetape_harness.server import ServerFactory

SDPFRAG = "application/trickle-ice-sdpfrag"
CANDIDATES = (
    "m=audio 9 RTP/AVP 0\r\n"
    "a=mid:0\r\n"
    "a=candidate:1 1 UDP 2015363327 192.0.2.10 43007 typ host\r\n"
    "a=candidate:2 1 TCP 1015021823 192.0.2.10 9 typ host tcptype active\r\n"
)


async def test_trickle_patch_rules(start_server: ServerFactory) -> None:
    server = start_server()
    media = EncodedMedia.synthetic(2.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api, \
            httpx.AsyncClient(timeout=30) as http:
        await api.create_room("room-1")
        alice = {"Authorization": f"Bearer {await api.mint_token('alice')}"}
        bob = {"Authorization": f"Bearer {await api.mint_token('bob')}"}
        server_key = {"Authorization": f"Bearer {server.secret_key}"}
        async with publishing(server, media, create_room=False, loop=True) as publisher:
            session = publisher.location
            assert session is not None
            etag = f'"{session.rsplit("/", 1)[1]}"'

            async def patch(body: str, headers: dict[str, str], content_type: str = SDPFRAG
                            ) -> httpx.Response:
                return await http.patch(session, content=body,
                                        headers={"Content-Type": content_type, **headers})

            # OPTIONS tells what PATCH takes; a CORS preflight allows it
            options = await http.options(session)
            assert options.status_code == 204
            assert options.headers["accept-patch"] == SDPFRAG
            assert "PATCH" in options.headers["allow"]
            assert "PATCH" in options.headers["access-control-allow-methods"]
            endpoint = await http.options(api.whip_url("room-1"))
            assert endpoint.headers["accept-post"] == "application/sdp"
            assert "PATCH" in endpoint.headers["access-control-allow-methods"]
            preflight = await http.options(session, headers={
                "Origin": "http://app.example", "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "authorization, content-type, if-match"})
            assert preflight.status_code == 200
            assert "PATCH" in preflight.headers["access-control-allow-methods"]

            # the publisher's own candidates: 204, with or without its ETag; the app's server
            # may trickle for it too
            assert (await patch(CANDIDATES, alice)).status_code == 204
            assert (await patch(CANDIDATES, {**alice, "If-Match": etag})).status_code == 204
            assert (await patch(CANDIDATES, {**server_key, "If-Match": "*"})).status_code == 204
            ended = await patch(CANDIDATES + "a=end-of-candidates\r\n", alice)
            assert ended.status_code == 204
            assert (await patch(CANDIDATES, alice)).status_code == 204  # after the end: ignored

            refused = {
                "another user's session": (await patch(CANDIDATES, bob), 404, 10008),
                "a stale ETag": (await patch(CANDIDATES, {**alice, "If-Match": '"old"'}),
                                 412, 1011),
                "an ICE restart": (await patch("a=ice-ufrag:new1\r\na=ice-pwd:"
                                               "newpassword0123456789012\r\n" + CANDIDATES,
                                               alice), 422, 1010),
                "a wrong content type": (await patch(CANDIDATES, alice, "application/sdp"),
                                         400, 1000),
                "a broken candidate": (await patch("a=candidate:1 1 UDP\r\n", alice), 400, 1000),
                "not SDP": (await patch("hello\r\n", alice), 400, 1000),
                "an unknown mid": (await patch(CANDIDATES.replace("mid:0", "mid:9"), alice),
                                   400, 1000),
                "no token": (await patch(CANDIDATES, {}), 401, 1001),
            }
            for case, (response, status, code) in refused.items():
                assert response.status_code == status, (case, response.text)
                body = response.json()
                assert body["code"] == code and body["message"] and body["hint"], (case, body)

            # the session is unharmed by all that
            room = await api.get_room("room-1")
            assert [m["user_id"] for m in room["members"]] == ["alice"]

        gone = await patch(CANDIDATES, alice)
        assert gone.status_code == 404 and gone.json()["code"] == 10008
    assert "trickled candidate" in server.log_text()
