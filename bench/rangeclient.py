"""HTTP/1.1 range clients for the serving benchmark: one GET at a time per connection.

:class:`RawClient` (the default) is a raw asyncio ``BufferedProtocol`` that counts every body
into one reused buffer, the least CPU a Python client can spend per byte; :class:`HttpxClient`
is ``httpx.AsyncClient``, which saturates its core at a few hundred 256 KiB requests/s. Both
return a :class:`Reply` (status, Content-Range, body bytes) and raise :class:`RequestFailed`
when a connection breaks or a response cannot be parsed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

REQUEST_TIMEOUT_S = 30.0


class RequestFailed(Exception):
    """A response that was not the expected one (status, range, length, closed connection)."""


@dataclass(frozen=True)
class Reply:
    status: int
    content_range: str | None
    body_bytes: int
    location: str | None = None  # a redirect's Location


class _RawConnection(asyncio.BufferedProtocol):
    """One keep-alive HTTP/1.1 connection, one request at a time, body counted, not kept.

    The body is received into one reused buffer (no allocation per read): the least a Python
    client can do per byte, so the client costs as little CPU as it can on a 2-core host.
    """

    def __init__(self) -> None:
        self._buffer = memoryview(bytearray(1 << 18))
        self._head = bytearray()
        self._left = -1  # body bytes still due; -1 while reading the head
        self._reply: tuple[int, str | None, int, str | None] = (0, None, 0, None)
        self._done: asyncio.Future[Reply] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's: not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(RequestFailed(f"connection closed ({exc or 'EOF'})"))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._left >= 0:
            self._left -= nbytes
        else:
            self._head += self._buffer[:nbytes]
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self._reply, self._left = _parse_head(bytes(self._head[:end]))
            except (ValueError, IndexError) as exc:
                self._fail(RequestFailed(f"bad response head: {exc}"))
                return
            self._left -= len(self._head) - end - 4
            self._head.clear()
        if self._left < 0:
            self._fail(RequestFailed("more bytes than Content-Length"))
        elif self._left == 0 and self._done is not None and not self._done.done():
            self._done.set_result(Reply(*self._reply))
            self._left = -1

    def _fail(self, exc: Exception) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    async def request(self, raw: bytes) -> Reply:
        assert self.transport is not None
        self._done = asyncio.get_running_loop().create_future()
        self._head.clear()
        self._left = -1
        self.transport.write(raw)
        return await self._done


def _parse_head(head: bytes) -> tuple[tuple[int, str | None, int, str | None], int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:])}
    if "content-length" not in headers:
        raise ValueError("no Content-Length")
    length = int(headers["content-length"])
    return (status, headers.get("content-range"), length, headers.get("location")), length


class RawClient:
    """C keep-alive connections through :class:`_RawConnection` (reconnects after a failure)."""

    name = "raw asyncio (BufferedProtocol)"

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        self._line = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n".encode()
        self._conns: dict[int, _RawConnection] = {}

    async def get(self, worker: int, first: int, last: int) -> Reply:
        conn = self._conns.get(worker)
        if conn is None or conn.transport is None:
            _, conn = await asyncio.get_running_loop().create_connection(
                _RawConnection, self.host, self.port)
            self._conns[worker] = conn
        ranged = f"Range: bytes={first}-{last}\r\n".encode() if last >= 0 else b""
        try:
            return await conn.request(self._line + ranged + b"\r\n")
        except BaseException:  # a timeout or a cancel mid-response: the connection is spent
            if conn.transport is not None:
                conn.transport.abort()
            raise

    async def aclose(self) -> None:
        for conn in self._conns.values():
            if conn.transport is not None:
                conn.transport.close()


class HttpxClient:
    """httpx.AsyncClient with C keep-alive connections, the body read with ``aiter_raw``."""

    name = f"httpx {httpx.__version__} AsyncClient"

    def __init__(self, url: str, connections: int) -> None:
        self.url = url
        limits = httpx.Limits(max_connections=connections,
                              max_keepalive_connections=connections)
        self._http = httpx.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT_S, limits=limits)

    async def get(self, worker: int, first: int, last: int) -> Reply:
        headers = {"Range": f"bytes={first}-{last}"} if last >= 0 else {}
        try:
            async with self._http.stream("GET", self.url, headers=headers) as response:
                got = 0
                async for chunk in response.aiter_raw():
                    got += len(chunk)
        except httpx.HTTPError as exc:
            raise RequestFailed(f"{type(exc).__name__}: {exc}") from exc
        return Reply(response.status_code, response.headers.get("content-range"), got)

    async def aclose(self) -> None:
        await self._http.aclose()


Client = RawClient | HttpxClient


def make_client(kind: str, url: str, connections: int) -> Client:
    return HttpxClient(url, connections) if kind == "httpx" else RawClient(url)
