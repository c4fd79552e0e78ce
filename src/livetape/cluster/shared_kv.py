"""A JetStream key-value bucket that nodes update with compare-and-set: the engine of the
cluster's shared counters (:mod:`livetape.cluster.slots`, :mod:`livetape.cluster.viewers`).

:meth:`SharedBucket.read` answers a key's value and its revision (0: never written, or
expired); :meth:`SharedBucket.swap` writes a new value only if the key is still at that
revision (JetStream's ``Nats-Expected-Last-Subject-Sequence``), with a per-message TTL, and
answers False when another node wrote first: the caller reads again and decides again. So two
nodes that admit the last free place at the same moment cannot both pass.

The bucket lives in memory (``history`` 1, per-message TTL: NATS 2.11+); it is made again
when it is missing (a new NATS server). Failures are the registry's codes: 30000401 (NATS not
connected), 30000402 (NATS answered with an error), 30000404 (no answer within
``LIVETAPE_NODE_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import Awaitable
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from livetape.cluster.connection import ClusterConnection, nats_call
from livetape.errors import LivetapeError

T = TypeVar("T")
MARKER_SECONDS = 60.0  # how long an expired key's marker stays (its revision keeps CAS exact)
_WRONG_LAST = (10071, 10164)  # JetStream: the subject's last sequence is not the expected one
_KEY = re.compile(r"^[A-Za-z0-9_=-]{1,200}$")


async def backoff(attempt: int) -> None:
    """After losing a compare-and-set round: a random wait, doubling up to a quarter second,
    so that many nodes writing one key spread out instead of colliding again."""
    await asyncio.sleep(random.uniform(0, min(0.25, 0.005 * 2 ** attempt)))


def safe_key(name: str) -> str:
    """``name`` as a key: itself when it is a plain token, else ``x`` + its UTF-8 in hex."""
    return name if _KEY.match(name) else "x" + name.encode().hex()


class SharedBucket:
    def __init__(self, connection: ClusterConnection, bucket: str, *, timeout: float) -> None:
        self._connection = connection
        self._name = bucket
        self._timeout = timeout
        self._kv: KeyValue | None = None

    async def read(self, key: str) -> tuple[int, bytes | None]:
        """(revision, value); (revision of the marker or 0, None) when there is no value."""
        kv = await self._bucket()
        try:
            entry = await self.call(kv.get(key), f"read {self._name}/{key}")
        except LivetapeError as exc:
            cause = exc.__cause__
            if isinstance(cause, nats.js.errors.KeyNotFoundError):
                gone = getattr(cause, "entry", None)  # a delete or expiry marker
                return (gone.revision or 0) if gone is not None else 0, None
            raise
        return entry.revision or 0, entry.value

    async def swap(self, key: str, value: bytes, last: int, ttl: float) -> bool:
        """Write ``value`` if ``key`` is still at revision ``last``; False if it is not."""
        await self._bucket()
        js = self._connection.client().jetstream(timeout=self._timeout)
        headers = {"Nats-Expected-Last-Subject-Sequence": str(last)}
        try:
            await self.call(js.publish(f"$KV.{self._name}.{key}", value, headers=headers,
                                       timeout=self._timeout, msg_ttl=max(1, math.ceil(ttl))),
                            f"write {self._name}/{key}")
        except LivetapeError as exc:
            cause = exc.__cause__
            if isinstance(cause, nats.js.errors.APIError) and cause.err_code in _WRONG_LAST:
                return False
            if isinstance(cause, nats.js.errors.NotFoundError | nats.errors.NoRespondersError):
                self._kv = None  # the bucket is gone (a new server): made again next time
            raise
        return True

    async def _bucket(self) -> KeyValue:
        client = self._connection.client()  # 30000401 at once while NATS is away
        if self._kv is None:
            js = client.jetstream(timeout=self._timeout)
            config = KeyValueConfig(bucket=self._name, history=1, storage=StorageType.MEMORY,
                                    limit_marker_ttl=MARKER_SECONDS)
            self._kv = await self.call(js.create_key_value(config), f"open {self._name}")
        return self._kv

    def forget_bucket(self) -> None:
        """Open the bucket again at the next call (after NATS came back)."""
        self._kv = None

    async def call(self, work: Awaitable[T], what: str) -> T:
        """``work`` within the timeout, NATS's failures as the catalogue's."""
        return await nats_call(work, what, self._connection.url, self._timeout)

