"""The viewer IPs of each ``rlimit`` play URL, shared by the cluster's nodes.

One key per signature in the JetStream key-value bucket ``livetape_viewers`` (in memory)
holds the IPs admitted so far, and lives as long as the URL (its per-message TTL is the
URL's remaining life). A node admits a new IP by writing the key back with it only if nobody
wrote it in between (compare-and-set on the revision, :mod:`shared_kv`), so two nodes
admitting the second and the third viewer of an ``rlimit=2`` URL at the same moment cannot
both pass: the one that loses the race reads the key again and refuses.

An IP once admitted stays admitted until the URL expires: each node remembers the IPs it saw
admitted and asks NATS only for an IP it has not seen on that URL.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from pydantic import BaseModel, ValidationError

from livetape.cluster.connection import ClusterConnection
from livetape.cluster.shared_kv import SharedBucket, backoff, safe_key
from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError

BUCKET = "livetape_viewers"
ATTEMPTS = 40


class Viewers(BaseModel):
    ips: list[str] = []


class SharedViewers:
    def __init__(self, connection: ClusterConnection, settings: Settings) -> None:
        self._bucket = SharedBucket(connection, BUCKET, timeout=settings.node_timeout_seconds)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        connection.on_connect(self._reconnected)

    async def _reconnected(self) -> None:
        self._bucket.forget_bucket()

    async def admit(self, sign: str, expires: int, ip: str, rlimit: int) -> list[str] | None:
        """Admit ``ip`` on the URL signed ``sign`` (valid through ``expires``, Unix seconds):
        the URL's viewer IPs with it, or None when ``rlimit`` others came first. NATS's
        failures raise 30000401/2/4."""
        key = safe_key(sign.lower())
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:  # this node's requests of one URL take turns (a player's burst)
            return await self._admit(key, expires, ip, rlimit)

    async def _admit(self, key: str, expires: int, ip: str, rlimit: int) -> list[str] | None:
        for attempt in range(ATTEMPTS):
            revision, raw = await self._bucket.read(key)
            try:
                ips = Viewers.model_validate_json(raw).ips if raw else []
            except ValidationError:
                ips = []  # unreadable (another version): counted afresh
            if ip in ips:
                return ips
            if len(ips) >= rlimit:
                return None
            ips = [*ips, ip]
            ttl = expires + 1 - time.time()
            if ttl <= 0:
                return ips  # it expires now: the signature check refuses it next time
            body = Viewers(ips=ips).model_dump_json().encode()
            if await self._bucket.swap(key, body, revision, ttl):
                return ips
            await backoff(attempt)
        raise LivetapeError(Catalogue.REGISTRY_FAILED,
                            f"the viewers of a play URL changed {ATTEMPTS} times while this "
                            "node tried to add one")
