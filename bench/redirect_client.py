"""A load client that follows a play URL's 302 the way a browser's media player does.

Chromium's media stack follows a redirect once and keeps sending the later ranges of the
same media element to the redirected URL while that works; when it fails (a presigned or
secure_link URL that expired: 403, a broken connection) it asks the original URL again.
:class:`RedirectClient` does the same per connection: the first GET goes to livetape, a 302
gives the URL that connection then uses (its own keep-alive connection there, through
:class:`rangeclient.RawClient`), and only a failed reply sends it back to livetape. So
livetape answers one request per connection and per link lifetime, the store all the others.
"""

from __future__ import annotations

from urllib.parse import urljoin

from rangeclient import RawClient, Reply, RequestFailed

OK = (200, 206)


class RedirectClient:
    """C workers' connections to livetape and to where it redirected each of them."""

    name = "raw asyncio (BufferedProtocol), following the 302 once like a player"

    def __init__(self, url: str) -> None:
        self.url = url
        self._entry = RawClient(url)
        self._moved: dict[int, RawClient] = {}  # worker -> its redirected URL's client
        self.asked = 0  # requests livetape answered (302s and anything else)

    async def get(self, worker: int, first: int, last: int) -> Reply:
        moved = self._moved.get(worker)
        if moved is not None:
            try:
                reply = await moved.get(worker, first, last)
                if reply.status in OK:
                    return reply
            except RequestFailed:
                pass
            del self._moved[worker]  # expired or broken: ask livetape again
            await moved.aclose()
        self.asked += 1
        reply = await self._entry.get(worker, first, last)
        if reply.status not in (301, 302, 303, 307, 308) or not reply.location:
            return reply  # served by livetape itself (or an error): checked by the caller
        moved = self._moved[worker] = RawClient(urljoin(self.url, reply.location))
        return await moved.get(worker, first, last)

    async def aclose(self) -> None:
        await self._entry.aclose()
        for moved in self._moved.values():
            await moved.aclose()
