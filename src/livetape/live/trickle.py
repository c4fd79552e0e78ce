"""Trickle ICE for a WHIP session: candidates a client sends after its offer (RFC 9725 4.3.1).

A WHIP client that does not wait for ICE gathering (GStreamer's ``simple-whip-client``, many
browser libraries) POSTs its offer without candidates and then PATCHes them in an
``application/trickle-ice-sdpfrag`` body (RFC 8840 section 9)::

    a=ice-ufrag:EsAw
    a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
    m=audio 9 RTP/AVP 0
    a=mid:0
    a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host
    a=end-of-candidates

livetape gathers all its own candidates before it answers, so only the client's direction
trickles. The candidates go to aiortc's peer connection; an ICE restart (new ufrag and
password) is not supported: publish again instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc import RTCIceCandidate, RTCPeerConnection
from aiortc.sdp import SessionDescription, candidate_from_sdp


class IceRestart(Exception):
    """The fragment carries ICE credentials other than the session's: an ICE restart."""


@dataclass
class SdpFragment:
    """What a trickle PATCH carries: credentials, (mid, candidate line) pairs, end flag."""

    ufrag: str | None = None
    pwd: str | None = None
    candidates: list[tuple[str | None, str]] = field(default_factory=list)
    end: bool = False


def parse_sdpfrag(text: str) -> SdpFragment:
    """Read an sdpfrag; ValueError if a line is not SDP or a candidate is malformed.

    Attributes this server has no use for (ice-options, group, m= lines other than for their
    mid) are skipped, as RFC 8840 lets a receiver do.
    """
    fragment = SdpFragment()
    mid: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise ValueError(f"line {number} is not an SDP line: {line[:80]!r}")
        if line.startswith("m="):
            mid = None  # a new media section: its a=mid follows
            continue
        if not line.startswith("a="):
            continue
        name, _, value = line[2:].partition(":")
        if name == "ice-ufrag":
            fragment.ufrag = value
        elif name == "ice-pwd":
            fragment.pwd = value
        elif name == "mid":
            mid = value
        elif name == "end-of-candidates":
            fragment.end = True
        elif name == "candidate":
            try:
                candidate_from_sdp(value)
            except (AssertionError, ValueError, IndexError) as exc:
                raise ValueError(f"line {number} is not an ICE candidate: {line[:120]!r}") from exc
            fragment.candidates.append((mid, value))
    return fragment


def _transport_mids(description: SessionDescription) -> dict[str, str]:
    """Each media section's mid -> the mid of the section whose ICE transport it uses
    (the first of its BUNDLE group, else its own)."""
    mids = {str(m.rtp.muxId): str(m.rtp.muxId) for m in description.media if m.rtp.muxId}
    for group in description.group:
        if group.semantic == "BUNDLE" and group.items:
            first = str(group.items[0])
            for item in group.items:
                mids[str(item)] = first
    return mids


async def add_candidates(pc: RTCPeerConnection, fragment: SdpFragment) -> int:
    """Give ``pc`` the fragment's candidates (and end-of-candidates); returns how many.

    Raises :class:`IceRestart` if the credentials are not the offer's, ValueError if a
    candidate names a media section the session does not have.
    """
    remote = pc.remoteDescription
    if remote is None:
        raise ValueError("the session has no offer yet")
    offer = SessionDescription.parse(remote.sdp)
    ice = next((m.ice for m in offer.media if m.ice is not None), None)
    if ice is not None and (
        (fragment.ufrag is not None and fragment.ufrag != ice.usernameFragment)
        or (fragment.pwd is not None and fragment.pwd != ice.password)
    ):
        raise IceRestart("the fragment's ice-ufrag/ice-pwd are not the offer's")
    transports = _transport_mids(offer)
    first = offer.media[0].rtp.muxId if offer.media else None
    candidates: list[RTCIceCandidate] = []
    for mid, line in fragment.candidates:
        if mid is not None and mid not in transports:
            raise ValueError(f"no media section with mid {mid!r} in the session")
        candidate = candidate_from_sdp(line)
        target = transports[mid] if mid is not None else first
        if target:
            candidate.sdpMid = target
        else:
            candidate.sdpMLineIndex = 0
        candidates.append(candidate)
    for candidate in candidates:
        await pc.addIceCandidate(candidate)
    if fragment.end:
        await pc.addIceCandidate(None)
    return len(candidates)
