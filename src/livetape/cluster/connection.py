"""This node's connection to the cluster's NATS servers (``LIVETAPE_NATS_URL``).

:meth:`ClusterConnection.start` returns at once: the first connection is tried in the
background until it succeeds (a node may start before NATS does), and once connected
nats-py reconnects forever. :attr:`ClusterConnection.state` tells where it stands
(``connecting``, ``connected``, ``reconnecting``, ``closed``); the health endpoint shows it.
Callers that need NATS now take :meth:`client`, which raises the catalogue's 30000401
(naming the servers) while there is no connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

import nats
import nats.errors
from nats.aio.client import Client

from livetape.errors import Catalogue, LivetapeError

T = TypeVar("T")

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0  # between attempts at the first connection


def servers_of(url: str) -> list[str]:
    """``nats://a:4222,nats://b:4222`` -> the list of servers."""
    return [part.strip() for part in url.split(",") if part.strip()]


class ClusterConnection:
    def __init__(self, url: str, *, name: str, timeout: float) -> None:
        self.url = url
        self._servers = servers_of(url)
        self._name = name
        self._timeout = timeout
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._state = "stopped"
        self._on_connect: list[Callable[[], Awaitable[None]]] = []

    @property
    def state(self) -> str:
        """``stopped``, ``connecting``, ``connected``, ``reconnecting`` or ``closed``."""
        return self._state

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def on_connect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after the first connection and after each reconnection (set up
        what the server may have lost: buckets, subscriptions are kept by nats-py)."""
        self._on_connect.append(hook)

    def client(self) -> Client:
        """The connected client, or 30000401 naming the servers."""
        if self._client is None or not self._client.is_connected:
            raise LivetapeError(Catalogue.REGISTRY_UNREACHABLE,
                                f"NATS at {self.url} is not connected ({self._state})")
        return self._client

    async def start(self) -> None:
        if self._task is None:
            self._state = "connecting"
            self._task = asyncio.create_task(self._first_connection(), name="nats connect")

    async def wait_connected(self, within: float) -> bool:
        """Until connected (True) or ``within`` seconds pass (False)."""
        deadline = asyncio.get_running_loop().time() + within
        while not self.connected:
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _first_connection(self) -> None:
        while self._client is None:
            try:
                self._client = await nats.connect(
                    servers=self._servers, name=self._name, connect_timeout=self._timeout,
                    allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                    disconnected_cb=self._disconnected, reconnected_cb=self._reconnected,
                    closed_cb=self._closed, error_cb=self._error)
            except Exception as exc:  # no server answers yet: keep trying, quietly
                log.warning("NATS at %s not reachable (%s); retrying", self.url, exc)
                await asyncio.sleep(RETRY_SECONDS)
        self._state = "connected"
        log.info("connected to NATS at %s", self.url)
        await self._run_hooks()

    async def _run_hooks(self) -> None:
        for hook in self._on_connect:
            try:
                await hook()
            except Exception:
                log.exception("setting up after connecting to NATS failed")

    async def _disconnected(self) -> None:
        if self._state == "connected":
            self._state = "reconnecting"
            log.warning("lost NATS at %s; reconnecting", self.url)

    async def _reconnected(self) -> None:
        self._state = "connected"
        log.info("reconnected to NATS at %s", self.url)
        await self._run_hooks()

    async def _closed(self) -> None:
        self._state = "closed"

    async def _error(self, exc: Exception) -> None:
        log.debug("NATS: %s", exc)

    async def stop(self) -> None:
        """Close the connection (idempotent); pending publishes are flushed when possible."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            client, self._client = self._client, None
            self._state = "stopping"  # its disconnection is no loss to warn of
            with suppress(Exception):
                await asyncio.wait_for(client.drain(), self._timeout)
            with suppress(Exception):
                await client.close()
        self._state = "stopped"


async def nats_call(work: Awaitable[T], what: str, url: str, seconds: float) -> T:
    """``work`` (a NATS call) within ``seconds``, NATS's failures as the catalogue's registry
    codes: 30000404 no answer in time, 30000401 unreachable, 30000402 an error answered."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_retrieved)
    try:  # not wait_for: a NATS call that outlives its cancellation cannot hold us
        await asyncio.wait({task}, timeout=seconds)
    finally:
        if not task.done():
            task.cancel()
    try:
        if not task.done():
            raise TimeoutError
        return task.result()
    except LivetapeError:
        raise
    except (TimeoutError, nats.errors.TimeoutError) as exc:
        raise LivetapeError(Catalogue.REGISTRY_TIMEOUT,
                            f"{what}: NATS at {url} did not answer within "
                            f"{seconds:g} s (LIVETAPE_NODE_TIMEOUT_SECONDS)") from exc
    except (nats.errors.ConnectionClosedError, nats.errors.NoServersError,
            nats.errors.ConnectionReconnectingError, nats.errors.StaleConnectionError,
            nats.errors.NoRespondersError) as exc:
        raise LivetapeError(Catalogue.REGISTRY_UNREACHABLE,
                            f"{what}: NATS at {url}: {exc or type(exc).__name__}") from exc
    except nats.errors.Error as exc:
        raise LivetapeError(Catalogue.REGISTRY_FAILED, f"{what}: NATS at {url} answered: "
                            f"{exc or type(exc).__name__}") from exc


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A task given up on still ends: its exception is read (no "never retrieved")."""
    if not task.cancelled():
        task.exception()
