"""H.264 key frame and completeness checks on hand-built access units (the shortcut that reads
only up to the first slice, and its fallback), beside real x264 output."""

from __future__ import annotations

from livetape.client.media import EncodedMedia
from livetape.recorder.bitstream import h264_nal_types, is_complete, is_keyframe

SC = b"\x00\x00\x00\x01"


def nal(kind: int, body: bytes = b"\x88\x84\x21") -> bytes:
    return SC + bytes([0x60 | kind]) + body


def test_access_units_by_hand() -> None:
    idr = nal(7) + nal(8) + nal(5) + nal(5)
    assert is_keyframe("h264", idr) and is_complete("h264", idr)
    # SPS and PPS after the IDR's first slice: found by reading on
    late_params = nal(9) + nal(5) + nal(7) + nal(8)
    assert is_keyframe("h264", late_params)
    assert not is_keyframe("h264", nal(5) + nal(5))  # an IDR without SPS/PPS cannot start a file
    p_frame = nal(9) + nal(1) + nal(1)
    assert not is_keyframe("h264", p_frame) and is_complete("h264", p_frame)
    parameters_only = nal(7) + nal(8)
    assert not is_complete("h264", parameters_only) and not is_keyframe("h264", parameters_only)
    assert not is_complete("h264", b"\x41\x9a\x00\x00")  # a middle piece: no start code
    assert not is_complete("h264", b"")


def test_real_encoder_output_matches_a_full_scan() -> None:
    media = EncodedMedia.synthetic(2.0, width=320, height=240, gop_seconds=0.5, audio=False)
    for packet in media.video:
        data = bytes(packet)
        nals = h264_nal_types(data)
        assert is_keyframe("h264", data) == (5 in nals and 7 in nals and 8 in nals)
        assert is_keyframe("h264", data) == packet.is_keyframe
        assert is_complete("h264", data)
