"""``/readyz``: may a load balancer send this node work? Each check answers within
``LIVETAPE_READY_TIMEOUT_SECONDS``: the database answers a query, the storage takes a
request (S3: HeadBucket; a folder: a file), in a cluster NATS is connected, and the node
takes publishers (below ``LIVETAPE_MAX_PUBLICATIONS``; a node set to 0 takes none by design,
an API-only node of a cluster, and is ready)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livetape.storage.base import Storage


class Check(BaseModel):
    ok: bool
    detail: str = Field(default="", description="why not, when not ok")


class Readiness(BaseModel):
    ready: bool = Field(description="every check ok")
    checks: dict[str, Check]


class ReadinessChecks:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], storage: Storage, *,
                 timeout: float, publications: Callable[[], Awaitable[int]],
                 max_publications: int, nats_connected: Callable[[], bool] | None = None
                 ) -> None:
        self._sessions, self._storage, self._timeout = sessions, storage, timeout
        self._publications, self._max = publications, max_publications
        self._nats_connected = nats_connected

    async def check(self) -> Readiness:
        names = ["database", "storage", "publishers"]
        probes = [self._database(), self._storage.check(), self._takes_publishers()]
        if self._nats_connected is not None:
            names.append("nats")
            probes.append(self._nats())
        found = await asyncio.gather(*(self._within(p) for p in probes))
        checks = dict(zip(names, found, strict=True))
        return Readiness(ready=all(c.ok for c in checks.values()), checks=checks)

    async def _within(self, probe: Awaitable[None]) -> Check:
        try:
            await asyncio.wait_for(probe, self._timeout)
        except TimeoutError:
            return Check(ok=False, detail=f"no answer within {self._timeout:g} s")
        except Exception as exc:
            return Check(ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])
        return Check(ok=True)

    async def _database(self) -> None:
        async with self._sessions() as session:
            await session.execute(text("SELECT 1"))

    async def _takes_publishers(self) -> None:
        if self._max == 0:  # an API-only node of a cluster: it places publishers elsewhere
            return
        live = await self._publications()
        if live >= self._max:
            raise RuntimeError(f"{live} publications live (LIVETAPE_MAX_PUBLICATIONS "
                               f"{self._max})")

    async def _nats(self) -> None:
        assert self._nats_connected is not None
        if not self._nats_connected():
            raise RuntimeError("not connected to NATS")
