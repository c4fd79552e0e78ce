"""Rooms and WHIP sessions over HTTP: create, join by publishing, leave, close."""

from __future__ import annotations

import httpx

from livetape.client.api import ApiError, LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.client.publisher import WhipError, WhipPublisher
from livetape_harness.flow import files_of, publishing, wait_for
from livetape_harness.server import LiveServer, ServerFactory

OFFERLESS = "v=0\r\n"


async def test_room_lifecycle(server: LiveServer, api: LivetapeClient) -> None:
    assert await api.create_room("r1") == "r1"
    generated = await api.create_room()
    assert len(generated) >= 8
    try:
        await api.create_room("r1")
        raise AssertionError("duplicate room accepted")
    except ApiError as err:
        assert (err.status, err.code) == (409, 1002)
    try:
        await api.create_room("r2", type="triple")
        raise AssertionError("bad room type accepted")
    except ApiError as err:
        assert (err.status, err.code) == (400, 1000)
    room = await api.get_room("r1")
    assert (room["type"], room["members"], room["recordings"]) == ("multi", [], [])
    await api.delete_room("r1")
    try:
        await api.get_room("r1")
        raise AssertionError("deleted room still there")
    except ApiError as err:
        assert (err.status, err.code) == (404, 30000410)


async def test_leaving_ends_the_recording_and_closing_the_room_too(
    server: LiveServer, api: LivetapeClient
) -> None:
    media = EncodedMedia.synthetic(2.0)
    async with publishing(server, media, loop=True) as publisher:
        recording_id = await api.start_recording("room-1", "leaver", user_id="alice")

        async def writing() -> bool:
            return bool((await api.get_recording(recording_id)).get("written", {}).get("video"))

        await wait_for(writing, timeout=10)
        await publisher.stop()  # DELETE on the Location
        room = await api.get_room("room-1")
        assert room["members"] == [] and room["recordings"] == []
        state = await api.get_recording(recording_id)
        assert (state["state"], state["end_reason"]) == ("ended", "publisher_left")
        assert len(state["file_ids"]) == 1
        try:
            await api.stop_recording("room-1", user_id="alice")
            raise AssertionError("stop after leaving must answer 30000413")
        except ApiError as err:
            assert err.code == 30000413 and err.body["file_ids"] == state["file_ids"]

    async with publishing(server, media, room="room-2", loop=True):
        recording_id = await api.start_recording("room-2", "closer", user_id="alice")
        await wait_for(writing, timeout=10)
        await api.delete_room("room-2")
        state = await api.get_recording(recording_id)
        assert (state["state"], state["end_reason"]) == ("ended", "room_closed")
    assert len(await files_of(api, "closer")) == 1


async def test_whip_edges(server: LiveServer, api: LivetapeClient) -> None:
    await api.create_room("r1")
    token = await api.mint_token("bob")
    url = api.whip_url("r1")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as http:
        preflight = await http.options(url, headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] in ("*", "https://app.example")
        plain = await http.options(url)
        assert plain.status_code == 204 and plain.headers["accept-post"] == "application/sdp"
        wrong_type = await http.post(url, content=OFFERLESS, headers={
            **auth, "Content-Type": "application/json"})
        assert (wrong_type.status_code, wrong_type.json()["code"]) == (400, 1000)
        not_sdp = await http.post(url, content="hello", headers={
            **auth, "Content-Type": "application/sdp"})
        assert (not_sdp.status_code, not_sdp.json()["code"]) == (400, 1000)
        nowhere = await http.post(api.whip_url("nowhere"), content=OFFERLESS + "m=audio",
                                  headers={**auth, "Content-Type": "application/sdp"})
        assert (nowhere.status_code, nowhere.json()["code"]) == (404, 30000410)
        two_videos = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                      + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
                      "a=rtpmap:96 VP8/90000\r\n" * 2)
        refused = await http.post(url, content=two_videos, headers={
            **auth, "Content-Type": "application/sdp"})
        assert (refused.status_code, refused.json()["code"]) == (400, 1000)
        assert "one audio and one video" in refused.json()["message"]
        unauthenticated = await http.post(url, content=OFFERLESS,
                                          headers={"Content-Type": "application/sdp"})
        assert unauthenticated.status_code == 401
        # trickle ICE (tests/rooms/test_whip_trickle.py): needs a token, then an existing session
        assert (await http.patch(f"{url.split('?')[0]}/abc")).status_code == 401
        unknown = await http.patch(f"{url.split('?')[0]}/abc", content="a=end-of-candidates",
                                   headers={**auth,
                                            "Content-Type": "application/trickle-ice-sdpfrag"})
        assert (unknown.status_code, unknown.json()["code"]) == (404, 10008)

    media = EncodedMedia.synthetic(1.0)
    async with WhipPublisher(url, token, media, loop=True) as publisher:
        assert publisher.location and "/v1/rooms/r1/whip/" in publisher.location
        again = WhipPublisher(url, token, media)
        try:
            await again.start()
            raise AssertionError("a second camera of the same user was accepted")
        except WhipError as err:
            assert (err.status, err.code) == (409, 1002)
        finally:
            await again.stop()


async def test_pair_rooms_hold_two_members(server: LiveServer, api: LivetapeClient) -> None:
    await api.create_room("pair", type="pair")
    media = EncodedMedia.synthetic(1.0)
    url = api.whip_url("pair")
    tokens = [await api.mint_token(user) for user in ("a", "b", "c")]
    async with WhipPublisher(url, tokens[0], media, loop=True), WhipPublisher(
        url, tokens[1], media, loop=True
    ):
        third = WhipPublisher(url, tokens[2], media)
        try:
            await third.start()
            raise AssertionError("a third member joined a pair room")
        except WhipError as err:
            assert (err.status, err.code) == (409, 1002) and "full" in err.message
        finally:
            await third.stop()
        members = (await api.get_room("pair"))["members"]
        assert [m["user_id"] for m in members] == ["a", "b"]


async def test_publications_beyond_the_server_limit_are_refused(
    start_server: ServerFactory,
) -> None:
    server = start_server(max_publications=1)
    media = EncodedMedia.synthetic(1.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        await api.create_room("r1")
        url = api.whip_url("r1")
        first, second = await api.mint_token("a"), await api.mint_token("b")
        async with WhipPublisher(url, first, media, loop=True):
            refused = WhipPublisher(url, second, media)
            try:
                await refused.start()
                raise AssertionError("a publication beyond LIVETAPE_MAX_PUBLICATIONS")
            except WhipError as err:
                assert (err.status, err.code) == (503, 1003) and err.hint
            finally:
                await refused.stop()
        # the limit counts live streams only: once the first left, the next one is taken
        async with WhipPublisher(url, second, media, loop=True) as publisher:
            assert publisher.location
