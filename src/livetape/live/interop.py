"""Two small patches to aiortc 1.16 / aioice 0.13 so that every family of WHIP client connects.

Both stacks are pinned (pyproject.toml); each patch wraps one function and leaves the rest of
its behaviour alone. ``tests/live/test_interop_patches.py`` fails if a version bump changes the
function a patch wraps (its source is compared with the text the patch was written against)
and shows, with a real handshake and a real STUN request, that each patch is still needed.

1. **DTLS cipher suites** (GStreamer ``webrtcbin``: ``simple-whip-client``, ``whipsink``,
   many embedded encoders). aiortc's DTLS context offers ECDHE-ECDSA suites only, and the
   suite's signature algorithm is the *DTLS server's* certificate's. livetape answers an
   ``actpass`` offer as the DTLS client, so a publisher that serves an RSA certificate (as
   GStreamer does) finds no suite it can use and the handshake fails with ``no shared
   cipher`` (aiortc issue 1392). The patch adds the matching ECDHE-RSA suites to the list;
   livetape's own certificate stays aiortc's ECDSA one, and the ECDSA suites stay first.

2. **STUN checks without PRIORITY** (FFmpeg 8's ``whip`` muxer). RFC 8445 section 7.1.1
   requires PRIORITY in a connectivity check, and aioice reads it to learn the peer-reflexive
   candidate the check came from; FFmpeg leaves it out, so aioice raises ``KeyError`` after
   answering and never pairs the address, and ICE never completes on our side. The patch
   gives such a check the priority RFC 8445 section 5.1.2's formula yields for a
   peer-reflexive candidate of that component (what aioice itself sends in its checks).

:func:`install` applies both, once per process, before the first peer connection.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import threading
from typing import Any

from aioice import stun
from aioice.candidate import candidate_priority
from aioice.ice import Connection, StunProtocol
from aiortc.rtcdtlstransport import RTCCertificate
from OpenSSL import SSL

log = logging.getLogger(__name__)

# aiortc 1.16's own list (rtcdtlstransport.py), then the same ciphers with RSA authentication
DTLS_CIPHERS = b":".join((
    b"ECDHE-ECDSA-AES128-GCM-SHA256", b"ECDHE-ECDSA-CHACHA20-POLY1305",
    b"ECDHE-ECDSA-AES128-SHA", b"ECDHE-ECDSA-AES256-SHA",
    b"ECDHE-RSA-AES128-GCM-SHA256", b"ECDHE-RSA-CHACHA20-POLY1305",
    b"ECDHE-RSA-AES128-SHA", b"ECDHE-RSA-AES256-SHA",
))

# sha256 of inspect.getsource() of each wrapped function, as the pinned versions ship it
PATCHED_SOURCES = {
    "aiortc.rtcdtlstransport.RTCCertificate._create_ssl_context":
        "aac625bdc264f0a6d4aebcb325a45941aaf753b6b4d33934d311e34344abad77",
    "aioice.ice.Connection.check_incoming":
        "cb3e32bd47e5fa8284b06afa7cb22a1d361315ed2d451c3c9d838adc3f491c6d",
}

original_create_ssl_context = RTCCertificate._create_ssl_context
original_check_incoming = Connection.check_incoming
_install_lock = threading.Lock()


@functools.wraps(original_create_ssl_context)
def _create_ssl_context(self: RTCCertificate, *args: Any, **kwargs: Any) -> SSL.Context:
    ctx: SSL.Context = original_create_ssl_context(self, *args, **kwargs)
    ctx.set_cipher_list(DTLS_CIPHERS)  # before any connection uses it (pyOpenSSL forbids after)
    return ctx


@functools.wraps(original_check_incoming)
def _check_incoming(
    self: Connection, message: stun.Message, addr: tuple[str, int], protocol: StunProtocol
) -> None:
    if "PRIORITY" not in message.attributes:
        # the check is already authenticated and answered; only the candidate needs a priority
        component = protocol.local_candidate.component
        message.attributes["PRIORITY"] = candidate_priority(component, "prflx")
    original_check_incoming(self, message, addr, protocol)


def source_digest(function: Any) -> str:
    """sha256 of a function's source, to compare with :data:`PATCHED_SOURCES`."""
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def changed_sources() -> list[str]:
    """The wrapped functions whose source is not the one the patches were written for."""
    current = {
        "aiortc.rtcdtlstransport.RTCCertificate._create_ssl_context":
            source_digest(original_create_ssl_context),
        "aioice.ice.Connection.check_incoming": source_digest(original_check_incoming),
    }
    return [name for name, digest in current.items() if PATCHED_SOURCES[name] != digest]


def install() -> None:
    """Apply both patches (idempotent); warns if the wrapped code is not the pinned one's."""
    with _install_lock:
        if installed():
            return
        changed = changed_sources()
        if changed:
            log.warning("WebRTC interop patches: %s changed since aiortc 1.16.0 / aioice 0.13.0; "
                        "third-party WHIP clients may not connect", ", ".join(changed))
        RTCCertificate._create_ssl_context = _create_ssl_context  # type: ignore[method-assign]
        Connection.check_incoming = _check_incoming  # type: ignore[method-assign]


def installed() -> bool:
    return (RTCCertificate._create_ssl_context is _create_ssl_context
            and Connection.check_incoming is _check_incoming)
