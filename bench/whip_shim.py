"""A minimal WHIP endpoint (RFC 9725 subset) on loopback that hands offers to a callable.

It lets the reference servers take the very publisher that livetape takes
(:class:`livetape.client.publisher.WhipPublisher`): ``POST /whip`` with an SDP offer answers
``201`` with the SDP answer and a ``Location``; ``DELETE`` on that location calls the leave
callable that came with the answer. Plain HTTP/1.1, one request per connection, no auth
(the bearer token is ignored): a benchmark fixture, not a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from types import MappingProxyType

logger = logging.getLogger(__name__)

Leave = Callable[[], Awaitable[None]]
Publish = Callable[[str], Awaitable[tuple[str, Leave]]]
READ_TIMEOUT_S = 30.0
MAX_BODY = 1 << 20
REASONS = MappingProxyType(
    {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 500: "Error"})


class WhipEndpoint:
    """Serves ``http://127.0.0.1:<port>/whip``; use ``async with`` or start() / stop()."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._sessions: dict[str, Leave] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The WHIP endpoint URL to give publishers."""
        return f"http://127.0.0.1:{self.port}/whip"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def leave_all(self) -> None:
        """Call every open session's leave callable (what DELETE would do)."""
        sessions, self._sessions = self._sessions, {}
        for leave in sessions.values():
            await leave()

    async def stop(self) -> None:
        """Stop listening and leave every open session."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.leave_all()

    async def __aenter__(self) -> WhipEndpoint:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, body = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT_S)
            status, headers, payload = await self._route(method, path, body)
        except (ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
            status, headers, payload = 400, {}, str(exc).encode()
        except Exception as exc:
            logger.exception("WHIP shim request failed")
            status, headers, payload = 500, {}, f"{type(exc).__name__}: {exc}".encode()
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
                f"Content-Length: {len(payload)}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _route(self, method: str, path: str,
                     body: bytes) -> tuple[int, dict[str, str], bytes]:
        path = path.split("?", 1)[0].rstrip("/")
        if method == "POST" and path == "/whip":
            answer, leave = await self._publish(body.decode("utf-8", "replace"))
            session = str(next(self._ids))
            self._sessions[session] = leave
            return 201, {"Content-Type": "application/sdp",
                         "Location": f"/whip/{session}"}, answer.encode()
        if method == "DELETE" and path.startswith("/whip/"):
            leave_or_none = self._sessions.pop(path.rsplit("/", 1)[1], None)
            if leave_or_none is None:
                return 404, {}, b""
            await leave_or_none()
            return 200, {}, b""
        return 404, {}, b""


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
    """(method, path, body) of one HTTP/1.1 request with a Content-Length body (or none)."""
    request_line = (await reader.readline()).decode("latin-1").split()
    if len(request_line) != 3:
        raise ValueError("bad request line")
    length = 0
    while (line := (await reader.readline()).decode("latin-1").strip()):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if not 0 <= length <= MAX_BODY:
        raise ValueError("bad Content-Length")
    body = await reader.readexactly(length) if length else b""
    return request_line[0].upper(), request_line[1], body
