"""The node registry: which nodes are alive, where they answer, how loaded they are.

A JetStream key-value bucket (``livetape_nodes``, in memory: after a NATS restart each node
writes itself again at its next heartbeat) holds one entry per node, keyed by node id. Each
node puts its entry every ``node_heartbeat_seconds`` with a per-message TTL of
``node_dead_seconds``: a node that stops (crash, kill -9, network cut) has no entry once its
last one expires, and watchers see it go (the server writes a delete marker). A node that
stops cleanly deletes its entry at once.

Every call raises the catalogue's errors: 30000401 (NATS not connected), 30000402 (NATS
answered with an error), 30000404 (no answer within ``node_timeout_seconds``), 30000403 (no
such node / no node for a room), 30000405-30000409 (an entry this version cannot read).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, ValidationError

from livetape import __version__
from livetape.cluster.connection import ClusterConnection, nats_call
from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError

log = logging.getLogger(__name__)

BUCKET = "livetape_nodes"
MARKER_SECONDS = 60.0  # how long the "node gone" marker stays for late watchers
T = TypeVar("T")


class NodeEntry(BaseModel):
    """What a node tells the cluster about itself."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    node_id: str
    public_url: str
    publications: int
    max_publications: int
    rooms: list[str]  # "app_id/room_id" of the rooms with publishers on this node
    cpu: float  # share of the machine's CPUs this node's process used since its last beat
    udp_drops: int = 0  # datagrams the kernel dropped on the node's media sockets (buffer full)
    version: str
    started_at: datetime
    seen_at: datetime


class NodeLoad(BaseModel):
    """The live part of an entry, asked from the media node at each heartbeat."""

    publications: int = 0
    rooms: list[str] = []
    udp_drops: int = 0


class NodeChange(BaseModel):
    """A watcher's news: ``joined``, ``updated`` or ``gone`` (stopped or dead)."""

    kind: str
    node_id: str
    entry: NodeEntry | None = None


def decode_entry(key: str, raw: bytes) -> NodeEntry:
    """A stored entry, or the catalogue's 30000405-30000409 naming the node."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise LivetapeError(Catalogue.REGISTRY_NOT_PARSEABLE,
                            f"node {key!r}: {raw[:60]!r}") from None
    if not isinstance(value, dict):
        raise LivetapeError(Catalogue.REGISTRY_NOT_OBJECT,
                            f"node {key!r}: a JSON {type(value).__name__}")
    try:
        entry = NodeEntry.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        if first["type"] == "missing":
            raise LivetapeError(Catalogue.REGISTRY_NO_RESULT,
                                f"node {key!r}: no {field!r}") from None
        raise LivetapeError(Catalogue.REGISTRY_BAD_FIELD,
                            f"node {key!r}: {field!r}: {first['msg']}") from None
    if entry.node_id != key:
        raise LivetapeError(Catalogue.REGISTRY_WRONG_KEY,
                            f"the entry of {key!r} names node {entry.node_id!r}")
    return entry


class NodeRegistry:
    def __init__(self, connection: ClusterConnection, settings: Settings, *,
                 public_url: str, describe: Callable[[], NodeLoad]) -> None:
        self._connection = connection
        self._settings = settings
        self.node_id = settings.resolved_node_id()
        self._public_url = public_url
        self._describe = describe
        self._timeout = settings.node_timeout_seconds
        self._started = datetime.now(UTC)
        self._kv: KeyValue | None = None
        self._beat: asyncio.Task[None] | None = None
        self._cpu_mark = (time.monotonic(), time.process_time())
        self._failing = False
        # TEST ONLY (LIVETAPE_TEST_NODE_FAULT=silent-after:S): beats stop S s after start
        fault = settings.test_node_fault or ""
        self._silent_at = (time.monotonic() + float(fault.split(":", 1)[1])
                           if fault.startswith("silent-after:") else None)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Join: the entry is written once connected, then every heartbeat."""
        self._connection.on_connect(self._joined)
        if self._beat is None:
            self._beat = asyncio.create_task(self._heartbeats(), name="node heartbeat")

    async def stop(self) -> None:
        """Leave (idempotent): stop beating and delete this node's entry when NATS is there."""
        if self._beat is not None:
            self._beat.cancel()
            with suppress(asyncio.CancelledError):
                await self._beat
            self._beat = None
            with suppress(LivetapeError):
                kv = await self._bucket()
                await self._call(kv.delete(self.node_id), "leave")

    async def _joined(self) -> None:
        self._kv = None  # the server may be a new one: make sure the bucket exists
        await self.beat()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._settings.node_heartbeat_seconds)
            if not self._connection.connected:
                continue
            if self._silent_at is not None and time.monotonic() >= self._silent_at:
                continue  # TEST ONLY: a node alive but silent
            try:
                await self.beat()
                if self._failing:
                    log.info("node %s: heartbeats reach the registry again", self.node_id)
                self._failing = False
            except LivetapeError as exc:
                self._kv = None  # the bucket may be gone (deleted, a new server): reopen it
                if not self._failing:
                    log.warning("node %s: heartbeat failed: %s", self.node_id, exc)
                self._failing = True
            except Exception:
                log.exception("node %s: heartbeat failed", self.node_id)

    # --- what this node says ------------------------------------------------------------

    def entry(self) -> NodeEntry:
        load = self._describe()
        now, cpu_now = time.monotonic(), time.process_time()
        wall, cpu = now - self._cpu_mark[0], cpu_now - self._cpu_mark[1]
        self._cpu_mark = (now, cpu_now)
        share = cpu / wall / (os.cpu_count() or 1) if wall > 0 else 0.0
        return NodeEntry(
            node_id=self.node_id, public_url=self._public_url,
            publications=load.publications, max_publications=self._settings.max_publications,
            rooms=sorted(load.rooms), cpu=round(share, 4), udp_drops=load.udp_drops,
            version=__version__,
            started_at=self._started, seen_at=datetime.now(UTC))

    async def beat(self) -> None:
        """Write this node's entry now, alive for ``node_dead_seconds``."""
        kv = await self._bucket()
        js = self._connection.client().jetstream()
        ttl = max(1, math.ceil(self._settings.node_dead_seconds))
        payload = self.entry().model_dump_json().encode()
        await self._call(js.publish(f"$KV.{kv._name}.{self.node_id}", payload,
                                    timeout=self._timeout, msg_ttl=ttl), "heartbeat")

    # --- what the cluster knows ---------------------------------------------------------

    async def nodes(self) -> list[NodeEntry]:
        """Every live node, by id."""
        kv = await self._bucket()
        try:
            keys = await self._call(kv.keys(), "list nodes")
        except LivetapeError as exc:
            if isinstance(exc.__cause__, nats.js.errors.NoKeysError):
                return []
            raise
        found = [await self._find(kv, key) for key in sorted(keys)]
        return [entry for entry in found if entry is not None]

    async def get(self, node_id: str) -> NodeEntry:
        """One live node, or 30000403."""
        entry = await self._find(await self._bucket(), node_id)
        if entry is None:
            raise LivetapeError(Catalogue.REGISTRY_NO_ROOM, f"no live node {node_id!r}",
                                hint="the node stopped or has not heartbeaten for "
                                "LIVETAPE_NODE_DEAD_SECONDS: list the live nodes")
        return entry

    async def node_of_room(self, app_id: str, room_id: str) -> NodeEntry:
        """The node holding publishers of a room, or 30000403."""
        for entry in await self.nodes():
            if f"{app_id}/{room_id}" in entry.rooms:
                return entry
        raise LivetapeError(Catalogue.REGISTRY_NO_ROOM,
                            f"no live node holds publishers of room {room_id!r}")

    async def watch(self) -> AsyncIterator[NodeChange]:
        """The nodes alive now (``joined``), then each change as it happens."""
        kv = await self._bucket()
        watcher = await self._call(kv.watchall(), "watch nodes")
        known: set[str] = set()
        try:
            while True:
                try:
                    update = await watcher.updates(timeout=3600)  # type: ignore[no-untyped-call,unused-ignore]
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                if update is None:  # the end of the current values
                    continue
                if update.operation in ("DEL", "PURGE") or update.value is None:
                    if update.key in known:
                        known.discard(update.key)
                        yield NodeChange(kind="gone", node_id=update.key)
                    continue
                entry = decode_entry(update.key, update.value)
                kind = "updated" if update.key in known else "joined"
                known.add(update.key)
                yield NodeChange(kind=kind, node_id=update.key, entry=entry)
        finally:
            with suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call,unused-ignore]

    # --- NATS, with the catalogue's errors ----------------------------------------------

    async def _find(self, kv: KeyValue, node_id: str) -> NodeEntry | None:
        try:
            found = await self._call(kv.get(node_id), f"get node {node_id!r}")
        except LivetapeError as exc:
            if isinstance(exc.__cause__, (nats.js.errors.KeyNotFoundError,
                                          nats.js.errors.KeyDeletedError)):
                return None
            raise
        if found.value is None or found.operation in ("DEL", "PURGE"):
            return None
        return decode_entry(node_id, found.value)

    async def _bucket(self) -> KeyValue:
        client = self._connection.client()  # 30000401 at once while NATS is away
        if self._kv is None:
            js = client.jetstream(timeout=self._timeout)
            config = KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.MEMORY,
                                    limit_marker_ttl=MARKER_SECONDS)
            self._kv = await self._call(js.create_key_value(config), "open the registry")
        return self._kv

    async def _call(self, work: Awaitable[T], what: str) -> T:
        return await nats_call(work, what, self._connection.url, self._timeout)
