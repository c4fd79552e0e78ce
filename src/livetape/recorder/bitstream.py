"""H.264 and Opus bitstream facts the recorder needs, read without decoding: which NAL
units an access unit holds, whether it is complete or a key frame, how many samples an Opus
packet carries."""

from __future__ import annotations


def h264_nal_types(data: bytes) -> list[int]:
    """NAL unit types of an Annex-B access unit (start codes 00 00 01 / 00 00 00 01)."""
    types = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 3 < len(data):
        types.append(data[i + 3] & 0x1F)
        i = data.find(b"\x00\x00\x01", i + 3)
    return types


def _nal_types_to_first_slice(data: bytes) -> tuple[set[int], int | None]:
    """The NAL unit types before an access unit's first slice (VCL NAL, type 1-5), and that
    slice's type (None: no slice). Stops there: the rest of a frame is its slices' data."""
    before: set[int] = set()
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 3 < len(data):
        nal = data[i + 3] & 0x1F
        if 1 <= nal <= 5:
            return before, nal
        before.add(nal)
        i = data.find(b"\x00\x00\x01", i + 3)
    return before, None


def is_complete(codec: str, data: bytes) -> bool:
    """Whether a frame can go into a file at all.

    After unrecovered packet loss aiortc can hand over the middle pieces of a fragmented
    frame without an Annex-B start code; muxed, such a sample makes FFmpeg refuse the whole
    MP4. A usable H.264 access unit starts with a start code and holds a picture slice.
    """
    if not data:
        return False
    if codec == "h264":
        if not data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
            return False
        return _nal_types_to_first_slice(data)[1] is not None
    return True


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame can start a file: an H.264 IDR with SPS+PPS, a VP8 key frame.

    H.264 reads up to the first slice only (once per frame, so not the whole frame's data):
    all slices of a picture are IDR or none is (H.264 7.4.1.2.4), so a first slice of type
    1-4 answers; SPS and PPS usually precede an IDR's first slice, else the rest is read.
    """
    if codec == "h264":
        before, first_slice = _nal_types_to_first_slice(data)
        if first_slice != 5:
            return False
        if {7, 8} <= before:
            return True
        nals = h264_nal_types(data)
        return 7 in nals and 8 in nals
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
