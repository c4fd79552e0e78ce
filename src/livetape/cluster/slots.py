"""Publication slots shared by the cluster's nodes: the app's, the user's and the room's limits
hold over every node, however many WHIP offers arrive at once through however many nodes.

One key per app in the JetStream key-value bucket ``livetape_slots`` (in memory) holds the
app's live publications on every node: a :class:`Slot` each (node, room, user, source, and
the end of its lease). A node admitting a publisher (:meth:`PublicationSlots.claim`) reads the
app's key, counts the live slots (``LIVETAPE_MAX_PUBLICATIONS_PER_APP``, ``..._PER_USER``, the
room's member limit, a source published twice) and writes the key back with its new slot only
if nobody wrote it in between (compare-and-set on the key's revision, :mod:`shared_kv`); if
somebody did, it reads and counts again. One key holds all three limits, so one write decides
them together.

A slot lives ``LIVETAPE_NODE_DEAD_SECONDS`` past its lease's last renewal. The node holding
it renews its slots every ``LIVETAPE_NODE_HEARTBEAT_SECONDS`` and removes a slot when its
publication ends (or the publish fails): a node that dies (kill -9, cut off) stops renewing,
and its slots stop counting once their lease ends, on every node. A slot the node could not
remove (NATS away) is removed at its next write, or its lease ends. After NATS restarts (the
bucket is empty), each node writes its slots again at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from contextlib import suppress
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, ValidationError

from livetape.cluster.connection import ClusterConnection
from livetape.cluster.shared_kv import SharedBucket, backoff, safe_key
from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError

log = logging.getLogger(__name__)

BUCKET = "livetape_slots"
ATTEMPTS = 60  # compare-and-set rounds before giving up (each lost round: another node wrote)


class Slot(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str  # the publication's id on its node
    node: str
    room: str
    user: str
    src: str
    until: float  # Unix time: the lease's end


class Ledger(BaseModel):
    slots: list[Slot] = []


@dataclass(frozen=True)
class SlotClaim:
    """A publisher to admit, and the limits it must fit in."""

    app_id: str
    room_id: str
    user_id: str
    src_type: str
    member_limit: int
    per_app: int | None
    per_user: int


@dataclass
class _Held:
    app_id: str
    slot: Slot
    confirmed: bool = False  # written to the ledger (a claim in progress is not)


def limit_refusal(whose: str, published: int, limit: int, setting: str) -> LivetapeError:
    """1003 past a publication limit; ``limit`` in the body names the setting."""
    return LivetapeError(
        Catalogue.SERVER_FULL, f"{whose} publishes {published} streams (limit {limit})",
        hint=f"end a stream first (DELETE its WHIP session), or retry later; the limit is "
        f"{setting}", limit=setting)


def refuse(live: list[Slot], claim: SlotClaim) -> None:
    """Raise the refusal of ``claim`` among the ``live`` slots of its app, if any."""
    in_room = [s for s in live if s.room == claim.room_id]
    if any((s.user, s.src) == (claim.user_id, claim.src_type) for s in in_room):
        raise LivetapeError(Catalogue.CONFLICT,
                            f"{claim.user_id!r} already publishes {claim.src_type}")
    members = {s.user for s in in_room}
    if claim.user_id not in members and len(members) >= claim.member_limit:
        raise LivetapeError(Catalogue.CONFLICT, f"the room is full ({claim.member_limit} members)")
    by_user = sum(1 for s in live if s.user == claim.user_id)
    if by_user >= claim.per_user:
        raise limit_refusal(f"user {claim.user_id!r}", by_user, claim.per_user,
                            "LIVETAPE_MAX_PUBLICATIONS_PER_USER")
    if claim.per_app is not None and len(live) >= claim.per_app:
        raise limit_refusal("this app", len(live), claim.per_app,
                            "LIVETAPE_MAX_PUBLICATIONS_PER_APP")


def decode(key: str, raw: bytes | None) -> Ledger:
    if not raw:
        return Ledger()
    try:
        return Ledger.model_validate_json(raw)
    except ValidationError as exc:
        raise LivetapeError(Catalogue.REGISTRY_BAD_FIELD,
                            f"the publication slots of {key!r}: {exc.errors()[0]['msg']}",
                            hint="run the same livetape version on every node") from None


class PublicationSlots:
    def __init__(self, connection: ClusterConnection, settings: Settings, node_id: str) -> None:
        self._connection = connection
        self._bucket = SharedBucket(connection, BUCKET, timeout=settings.node_timeout_seconds)
        self._node = node_id
        self._lease = settings.node_dead_seconds
        self._timeout = settings.node_timeout_seconds
        self._every = settings.node_heartbeat_seconds
        self._held: dict[str, _Held] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._dirty: set[str] = set()  # apps with a slot removed here and not yet in NATS
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def claim(self, slot_id: str, claim: SlotClaim) -> None:
        """Take a slot for publication ``slot_id`` of this node, or raise the refusal (409
        1002 conflict or room full, 503 1003 past the app's or user's limit) or NATS's
        failure (30000401/2/4)."""
        key = safe_key(claim.app_id)
        held = _Held(claim.app_id, Slot(id=slot_id, node=self._node, room=claim.room_id,
                                        user=claim.user_id, src=claim.src_type, until=0))
        self._held[slot_id] = held  # the writer below keeps it while the claim runs
        sent = False
        try:
            async with self._turn(key):  # this node's claims take turns: fewer collisions
                for attempt in range(ATTEMPTS):
                    revision, raw = await self._bucket.read(key)
                    now = time.time()
                    live = [s for s in decode(key, raw).slots if s.until > now
                            and (s.node, s.id) != (self._node, slot_id)]
                    refuse(live, claim)
                    slot = held.slot.model_copy(update={"until": now + self._lease})
                    body = Ledger(slots=[*live, slot]).model_dump_json().encode()
                    sent = True
                    if await self._bucket.swap(key, body, revision, self._lease):
                        held.slot, held.confirmed = slot, True
                        if self._held.get(slot_id) is not held:  # given back meanwhile
                            self._dirty.add(claim.app_id)
                            self._wake.set()
                        return
                    await backoff(attempt)
        except BaseException:
            if self._held.pop(slot_id, None) is not None and sent:
                self._dirty.add(claim.app_id)  # a write may have landed: remove it
            raise
        self._held.pop(slot_id, None)
        raise LivetapeError(Catalogue.REGISTRY_FAILED,
                            f"the publication slots of app {claim.app_id!r} changed "
                            f"{ATTEMPTS} times while this node tried to take one")

    def release(self, slot_id: str) -> None:
        """Give a slot back (its publication ended or was refused); written in the
        background, at once."""
        held = self._held.pop(slot_id, None)
        if held is not None:
            self._dirty.add(held.app_id)
            self._wake.set()

    def held(self) -> int:
        return len(self._held)

    # --- renewals -----------------------------------------------------------------------

    async def start(self) -> None:
        self._connection.on_connect(self._reconnected)
        if self._task is None:
            self._task = asyncio.create_task(self._renewals(), name="publication slots")

    async def stop(self) -> None:
        """Stop renewing (idempotent); slots given back before are written if NATS is there."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with suppress(LivetapeError, TimeoutError):
                await asyncio.wait_for(self.write_all(), 2 * self._timeout)

    async def _reconnected(self) -> None:
        self._bucket.forget_bucket()  # a new server may have none: made again
        self._wake.set()

    async def _renewals(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._every)
            self._wake.clear()
            if not self._connection.connected:
                continue
            try:
                await self.write_all()
                if self._failing:
                    log.info("node %s: publication slots written again", self._node)
                self._failing = False
            except LivetapeError as exc:
                self._bucket.forget_bucket()
                if not self._failing:
                    log.warning("node %s: renewing publication slots failed: %s", self._node,
                                exc)
                self._failing = True
            except Exception:
                log.exception("node %s: renewing publication slots failed", self._node)

    async def write_all(self) -> None:
        """Renew this node's slots and remove those given back, app by app."""
        apps = {held.app_id for held in self._held.values()} | self._dirty
        for app_id in sorted(apps):
            await self._write(app_id)
            self._dirty.discard(app_id)

    async def _write(self, app_id: str) -> None:
        key = safe_key(app_id)
        async with self._turn(key):
            await self._write_now(app_id, key)

    def _turn(self, key: str) -> asyncio.Lock:
        """The lock of an app's key in this process (kept while someone holds or waits)."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _write_now(self, app_id: str, key: str) -> None:
        for attempt in range(ATTEMPTS):
            revision, raw = await self._bucket.read(key)
            now = time.time()
            until = now + self._lease
            mine = {i: h for i, h in self._held.items() if h.app_id == app_id}
            kept: list[Slot] = []
            for slot in decode(key, raw).slots:
                if slot.node == self._node:
                    held = mine.pop(slot.id, None)
                    if held is None:
                        continue  # given back
                    if held.confirmed:
                        slot = held.slot = slot.model_copy(update={"until": until})
                    kept.append(slot)
                elif slot.until > now:
                    kept.append(slot)
            for held in mine.values():  # lost with a NATS restart: written again
                if held.confirmed:
                    held.slot = held.slot.model_copy(update={"until": until})
                    kept.append(held.slot)
            if not kept and revision == 0:
                return
            body = Ledger(slots=kept).model_dump_json().encode()
            if await self._bucket.swap(key, body, revision, self._lease):
                return
            await backoff(attempt)
        raise LivetapeError(Catalogue.REGISTRY_FAILED,
                            f"the publication slots of app {app_id!r} kept changing")
