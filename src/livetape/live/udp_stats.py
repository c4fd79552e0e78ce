"""Media UDP sockets' receive buffers, and the datagrams the kernel dropped on them.

One Python event loop reads every media socket of a process; while it is busy elsewhere
(a remux, a burst of key frames), datagrams wait in each socket's receive buffer, and the
kernel drops what does not fit. :class:`ReceiveBuffers` asks for a large buffer
(``LIVETAPE_UDP_RECEIVE_BUFFER_BYTES``): ``SO_RCVBUFFORCE`` where the process may (root,
CAP_NET_ADMIN), else ``SO_RCVBUF``, which the kernel caps at ``net.core.rmem_max`` (logged
once, never an error).

:class:`UdpDrops` counts the drops: the ``drops`` column of ``/proc/self/net/udp`` and
``udp6`` for the inodes of this process's own UDP sockets (the kernel's per-socket counter:
full receive buffer). A socket's count disappears with it, so the last value seen of each
closed socket is kept: the total only grows while the process lives.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

RMEM_MAX = Path("/proc/sys/net/core/rmem_max")
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def rmem_max() -> int | None:
    """The kernel's cap on SO_RCVBUF (net.core.rmem_max), None where it cannot be read."""
    try:
        return int(RMEM_MAX.read_text().strip())
    except (OSError, ValueError):
        return None


class ReceiveBuffers:
    """Sets one receive-buffer size on the sockets it is given; warns once when capped."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.granted: int | None = None  # what the kernel gave the last socket (getsockopt)
        self._warned = False

    def apply(self, sock: socket.socket) -> int:
        """Ask for ``wanted`` bytes (0: leave the default); returns what the kernel granted
        (``getsockopt``, which counts its bookkeeping: about twice the ask)."""
        wanted = self.wanted
        if wanted > 0:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, wanted)
            except OSError:  # not privileged: the plain option, capped at rmem_max
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
                except OSError as exc:
                    log.warning("UDP receive buffer of %d bytes not set: %s", wanted, exc)
        granted: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.granted = granted
        if 0 < granted < wanted and not self._warned:
            self._warned = True
            log.warning("UDP receive buffers capped at %d bytes (asked %d; net.core.rmem_max "
                        "= %s): raise it (sysctl -w net.core.rmem_max=%d) to absorb longer "
                        "bursts", granted // 2, wanted, rmem_max(), wanted)
        return granted


def _socket_inodes(pid: str = "self") -> set[str]:
    inodes: set[str] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


class UdpSocket(NamedTuple):
    """One UDP socket of a process, as /proc/<pid>/net/udp{,6} lists it."""

    inode: str
    address: str  # the kernel's hex form (``0100007F`` = 127.0.0.1)
    port: int
    drops: int  # datagrams the kernel dropped on it (its receive buffer was full)


def udp_sockets(pid: str = "self") -> list[UdpSocket]:
    """The UDP sockets process ``pid`` holds open (IPv4 and IPv6)."""
    inodes = _socket_inodes(pid)
    found: list[UdpSocket] = []
    for table in ("udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 12 and fields[9] in inodes:
                address, port = fields[1].rsplit(":", 1)
                found.append(UdpSocket(fields[9], address, int(port, 16), int(fields[12])))
    return found


def udp_socket_drops(pid: str = "self") -> dict[str, int]:
    """``{inode: drops}`` of the UDP sockets process ``pid`` holds open (IPv4 and IPv6)."""
    return {sock.inode: sock.drops for sock in udp_sockets(pid)}


class UdpDrops:
    """The kernel's drop counters of this process's UDP sockets, summed since creation."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._closed = 0
        self._lock = threading.Lock()

    def total(self) -> int:
        """Datagrams dropped on this process's UDP sockets (open ones, and closed ones as
        last seen)."""
        now = udp_socket_drops()
        with self._lock:
            for inode, drops in self._seen.items():
                if inode not in now:
                    self._closed += drops
            self._seen = now
            return self._closed + sum(now.values())
