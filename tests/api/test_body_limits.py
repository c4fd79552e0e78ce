"""Request bodies have limits (LIVETAPE_MAX_BODY_BYTES, LIVETAPE_MAX_SDP_BYTES,
LIVETAPE_WATERMARK_MAX_BYTES): past one, 413 with code 1006, and the server stops reading.

The raw-socket cases send only part of a body announced (or streamed) past the limit and
then wait for the answer: a server that read on to the end would never answer them."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx

from livetape_harness.server import LiveServer, ServerFactory

SDP_LIMIT, BODY_LIMIT, PNG_LIMIT = 2048, 1024, 8192


def refused(response: httpx.Response, setting: str, limit: int) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["code"] == 1006 and f"LIVETAPE_{setting}" in body["hint"], body
    assert str(limit) in body["message"], body


def raw_exchange(server: LiveServer, head: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Send ``head`` and part of a body, never the rest; the status and JSON body answered."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)  # a server waiting for the rest times out here
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload)


def test_body_limits(start_server: ServerFactory) -> None:
    server = start_server(max_sdp_bytes=SDP_LIMIT, max_body_bytes=BODY_LIMIT,
                          watermark_max_bytes=PNG_LIMIT)
    key = {"Authorization": f"Bearer {server.secret_key}"}
    whip = f"{server.url}/v1/rooms/room-1/whip?user_id=alice"
    sdp = {**key, "Content-Type": "application/sdp"}

    # WHIP offers: at the limit the offer is read (and refused for what it says), past it 413
    at_limit = httpx.post(whip, content=b"x" * SDP_LIMIT, headers=sdp)
    assert (at_limit.status_code, at_limit.json()["code"]) == (400, 1000), at_limit.text
    refused(httpx.post(whip, content=b"v=0\r\nm=" + b"x" * SDP_LIMIT, headers=sdp),
            "MAX_SDP_BYTES", SDP_LIMIT)
    # a streamed (chunked) offer is cut off too
    refused(httpx.post(whip, content=iter([b"v=0\r\n"] + [b"a=x" * 100] * 20), headers=sdp),
            "MAX_SDP_BYTES", SDP_LIMIT)
    # 10 MB announced, 4 KB sent: answered at once, the rest never read
    status, body = raw_exchange(
        server, "POST /v1/rooms/room-1/whip?user_id=alice HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {server.secret_key}\r\nContent-Type: application/sdp\r\n"
        "Content-Length: 10000000\r\n\r\n", b"v=0\r\n" + b"a" * 4096)
    assert (status, body["code"]) == (413, 1006), body
    # chunked, past the limit, never finished: answered once past the limit
    chunk = b"a" * 1000
    status, body = raw_exchange(
        server, "POST /v1/rooms/room-1/whip?user_id=alice HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {server.secret_key}\r\nContent-Type: application/sdp\r\n"
        "Transfer-Encoding: chunked\r\n\r\n", (b"3e8\r\n" + chunk + b"\r\n") * 3)
    assert (status, body["code"]) == (413, 1006), body

    # JSON bodies: /v1/record (refused before it is parsed or the caller is checked)
    record = f"{server.url}/v1/record"
    small = httpx.post(record, content=b"{" + b" " * (BODY_LIMIT - 2) + b"}", headers=key)
    assert small.json()["code"] == 30000003, small.text  # read and parsed: no operation
    big = {"operation": "start", "room_id": "room-1", "tags": ["t" * 60] * 16}
    refused(httpx.post(record, json=big, headers=key), "MAX_BODY_BYTES", BODY_LIMIT)
    refused(httpx.post(record, json=big), "MAX_BODY_BYTES", BODY_LIMIT)  # no key either
    refused(httpx.post(record, content=iter([b"{"] + [b" " * 500] * 4 + [b"}"]), headers=key),
            "MAX_BODY_BYTES", BODY_LIMIT)
    status, body = raw_exchange(
        server, "POST /v1/record HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 5000000\r\n\r\n", b"[" * 2000)
    assert (status, body["code"]) == (413, 1006), body
    # a route with a pydantic body, and the console's sign-in (no key needed)
    patch = httpx.patch(f"{server.url}/v1/vod/files/1", headers=key,
                        json={"description": "d" * BODY_LIMIT})
    refused(patch, "MAX_BODY_BYTES", BODY_LIMIT)
    streamed_patch = httpx.patch(f"{server.url}/v1/vod/files/1", headers=key,
                                 content=iter([b'{"description": "'] + [b"d" * 600] * 3))
    refused(streamed_patch, "MAX_BODY_BYTES", BODY_LIMIT)
    refused(httpx.post(f"{server.url}/console/session",
                       data={"app_id": server.app_id, "secret_key": "k" * BODY_LIMIT}),
            "MAX_BODY_BYTES", BODY_LIMIT)

    # the watermark PNG has its own, larger limit
    watermark = f"{server.url}/v1/vod/watermark"
    png = {**key, "Content-Type": "image/png"}
    not_png = httpx.put(watermark, content=b"x" * (PNG_LIMIT - 1), headers=png)
    assert (not_png.status_code, not_png.json()["code"]) == (400, 1000), not_png.text
    refused(httpx.put(watermark, content=b"x" * (PNG_LIMIT + 1), headers=png),
            "WATERMARK_MAX_BYTES", PNG_LIMIT)
    assert "Traceback" not in server.log_text()
