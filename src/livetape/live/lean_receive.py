"""Per-packet work a receive-only recorder leaves out of aioice's and aiortc's receive path.

A general WebRTC endpoint does, for every media datagram, work a recorder has no use for.
Three pieces of it go, each by a small change documented here and guarded by
``tests/live/test_lean_receive.py`` (it fails when the pinned aioice / aiortc change the
code these changes rest on, and shows with real peers that recording still works):

1. **aioice parses every datagram as STUN first.** ``StunProtocol.datagram_received`` calls
   ``stun.parse_message`` on each datagram and hands it to the ICE connection's queue only
   when that parse raises ``ValueError``: for media (DTLS, SRTP, SRTCP) that is a parse
   attempt and an exception per packet. RFC 7983 demultiplexes by the first byte: STUN's
   is 0-3, DTLS's 20-63, RTP/RTCP's 128-191, and a STUN message's first two bits are zero
   (RFC 5389 section 6), so a datagram whose first byte is above 3 can never parse as STUN.
   :func:`install` wraps the method so such datagrams go straight to the connection, which
   is what aioice does with them after its failed parse; STUN (first byte 0-3) still takes
   aioice's path untouched (checks, consent freshness, responses). The shared UDP port
   (:mod:`livetape.live.udp_mux`) already routes by the same rule.

2. **aiortc estimates the bandwidth of every video packet for REMB.** A video receiver
   feeds each packet carrying the abs-send-time extension to its
   ``RemoteBitrateEstimator`` (an inter-arrival filter, overuse detector and rate control,
   in Python) and sends REMB feedback from it. A recorder has no bitrate of its own to
   adapt, and the sender's loss-based control still gets aiortc's receiver reports (loss
   fraction, jitter) every 0.5-1.5 s. :func:`skip_bandwidth_estimation` turns the
   estimator off for one receiver (aiortc's own receivers for audio have none either), so
   no REMB is sent. What stays: NACK (and RTX unwrapping), PLI, receiver reports, sender
   reports (A/V sync), the jitter buffer (reordering, loss detection), SRTP.

3. **abs-send-time is asked for although nothing reads it now.** aiortc's answer accepts the
   offer's abs-send-time header extension, so publishers stamp it on every video packet and
   aiortc parses it out of every one (``HeaderExtensionsMap.get``); it only fed the
   estimator. :func:`skip_send_time` leaves it out of a transceiver's negotiated extensions
   (``_headerExtensions``, which both the answer and the receiver's parameters are made
   from) between the offer and the answer; a publisher then sends the packets without it.

The first is per process (publishers in the same process, in tests, see it too; it does
not alter what they receive), the others per receiver and transceiver of a publication.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import threading
from typing import Any

from aioice.ice import StunProtocol
from aiortc import rtcpeerconnection
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

# sha256 of inspect.getsource() of the code each change rests on, as the pinned versions ship it
PATCHED_SOURCES = {
    "aioice.ice.StunProtocol.datagram_received":
        "ff4c8b910d45fb3a9e50c4391fe5cbaba33dcba669fea9e847e19a5c99b9bfbb",
    "aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet":
        "4e54983d021a6336d80c29490f82f9a6dd531c0d3179b2daed818120c5ece238",
    "aiortc.rtcpeerconnection.create_media_description_for_transceiver":
        "2ab6730b6dd9aaea7f4078724582b693f95fe1adfb51477b79d911293feea267",
    "aiortc.rtcpeerconnection.RTCPeerConnection.__remoteRtp":
        "1dc79068e0cae573d5709182a4b55649d315ef5d87bec82af5ae3c4a0ce542d9",
}
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_ESTIMATOR_ATTRIBUTE = "_RTCRtpReceiver__remote_bitrate_estimator"
_STUN_MAX_FIRST_BYTE = 3  # RFC 7983: 0-3 STUN, 20-63 DTLS, 128-191 RTP/RTCP

original_datagram_received = StunProtocol.datagram_received
_install_lock = threading.Lock()


@functools.wraps(original_datagram_received)
def _datagram_received(self: StunProtocol, data: bytes | str, addr: tuple[Any, ...]) -> None:
    if data and isinstance(data, bytes) and data[0] > _STUN_MAX_FIRST_BYTE:
        # not STUN: where aioice's failed parse would have sent it, without the parse
        self.receiver.data_received(data, self.local_candidate.component)
        return
    original_datagram_received(self, data, addr)


def source_digest(function: Any) -> str:
    """sha256 of a function's source, to compare with :data:`PATCHED_SOURCES`."""
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def changed_sources() -> list[str]:
    """The functions whose source is not the one these changes were written for."""
    current = {
        "aioice.ice.StunProtocol.datagram_received": source_digest(original_datagram_received),
        "aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet":
            source_digest(RTCRtpReceiver._handle_rtp_packet),
        "aiortc.rtcpeerconnection.create_media_description_for_transceiver":
            source_digest(rtcpeerconnection.create_media_description_for_transceiver),
        "aiortc.rtcpeerconnection.RTCPeerConnection.__remoteRtp":
            source_digest(vars(rtcpeerconnection.RTCPeerConnection)[
                "_RTCPeerConnection__remoteRtp"]),
    }
    return [name for name, digest in current.items() if PATCHED_SOURCES[name] != digest]


def install() -> None:
    """Let media datagrams skip aioice's STUN parse (idempotent, process-wide)."""
    with _install_lock:
        if not installed():
            StunProtocol.datagram_received = _datagram_received  # type: ignore[method-assign]


def installed() -> bool:
    return StunProtocol.datagram_received is _datagram_received


def skip_bandwidth_estimation(receiver: RTCRtpReceiver) -> None:
    """No REMB estimation (and so no REMB feedback) for ``receiver``; before media starts."""
    if not hasattr(receiver, _ESTIMATOR_ATTRIBUTE):
        raise RuntimeError("aiortc's RTCRtpReceiver has no bitrate estimator attribute: "
                           "unsupported version (pin aiortc==1.16.0)")
    setattr(receiver, _ESTIMATOR_ATTRIBUTE, None)


def estimates_bandwidth(receiver: RTCRtpReceiver) -> bool:
    return getattr(receiver, _ESTIMATOR_ATTRIBUTE, None) is not None


def skip_send_time(transceiver: RTCRtpTransceiver) -> None:
    """Leave abs-send-time out of what ``transceiver`` negotiates; after the offer is set,
    before the answer is made."""
    transceiver._headerExtensions = [
        e for e in transceiver._headerExtensions if e.uri != ABS_SEND_TIME]
