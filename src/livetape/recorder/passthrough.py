"""Encoded frames out of aiortc, without decoding.

aiortc has no public encoded-frame API. Its receiver hands every reassembled frame (H.264
Annex-B access unit, VP8 frame, Opus packet) to ``get_decoder(codec).decode(frame)`` in a
decoder thread, and queues whatever that returns on the track. The name is looked up in
``aiortc.rtcrtpreceiver`` at call time, so replacing it with a factory whose ``decode()``
returns the encoded frame itself makes ``track.recv()`` yield encoded frames, while NACK,
RTX, REMB, receiver reports and PLI-on-loss keep working.

This rests on one private name of aiortc, which is why pyproject pins aiortc's version and
``tests/test_passthrough.py`` checks the hook still takes. It is process-wide: a livetape
server never needs decoded frames from aiortc (VP8 is decoded by the recorder with PyAV).
"""

from __future__ import annotations

import threading
from typing import Any

import aiortc.rtcrtpreceiver as _receiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters


class PassthroughDecoder:
    """Stands in for an aiortc decoder: returns the encoded frame unchanged."""

    def __init__(self, codec: RTCRtpCodecParameters) -> None:
        self.codec = codec

    def decode(self, encoded_frame: JitterFrame) -> list[Any]:
        return [encoded_frame]


def _passthrough_factory(codec: RTCRtpCodecParameters) -> PassthroughDecoder:
    return PassthroughDecoder(codec)


_install_lock = threading.Lock()


def install() -> None:
    """Make every aiortc receiver in this process yield encoded frames (idempotent)."""
    with _install_lock:
        if getattr(_receiver, "get_decoder", None) is not _passthrough_factory:
            if not hasattr(_receiver, "get_decoder"):
                raise RuntimeError(
                    "aiortc.rtcrtpreceiver.get_decoder is gone: this aiortc version is not "
                    "supported (pin aiortc==1.16.0)"
                )
            _receiver.get_decoder = _passthrough_factory


def installed() -> bool:
    return getattr(_receiver, "get_decoder", None) is _passthrough_factory


def h264_nal_types(data: bytes) -> list[int]:
    """NAL unit types of an Annex-B access unit (start codes 00 00 01 / 00 00 00 01)."""
    types = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 3 < len(data):
        types.append(data[i + 3] & 0x1F)
        i = data.find(b"\x00\x00\x01", i + 3)
    return types


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame can start a file: an H.264 IDR with SPS+PPS, a VP8 key frame."""
    if codec == "h264":
        nals = h264_nal_types(data)
        return 5 in nals and 7 in nals and 8 in nals
    if codec == "vp8":
        return len(data) > 0 and (data[0] & 0x01) == 0
    return True  # audio: every packet decodes on its own


def opus_samples(packet: bytes) -> int:
    """Samples at 48 kHz in one Opus packet, from its TOC byte (RFC 6716 section 3.1)."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:  # hybrid: 10, 20 ms
        frame = (480, 960)[config % 2]
    else:  # CELT: 2.5, 5, 10, 20 ms
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        count = packet[1] & 0x3F if len(packet) > 1 else 1
    return frame * count
