"""The recorder's hook into aiortc: frames come out encoded, bit-exact, with sender reports."""

from __future__ import annotations

import asyncio

import aiortc.rtcrtpreceiver as receiver_module
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from livetape.client.media import EncodedMedia
from livetape.client.pacing import SharedClock
from livetape.client.publisher import codec_preferences
from livetape.recorder import passthrough
from livetape.recorder.passthrough import h264_nal_types, is_keyframe, opus_samples
from livetape.rooms.clock import SenderClock


def nal_units(access_unit: bytes) -> list[bytes]:
    """The NAL units of an Annex-B buffer, start codes removed (3- or 4-byte)."""
    parts = access_unit.split(b"\x00\x00\x01")
    return [p.rstrip(b"\x00") if i < len(parts) - 1 else p for i, p in enumerate(parts) if p]


async def test_hook_yields_the_sent_frames_bit_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    # restore aiortc's decoder factory afterwards: other tests in this process decode
    monkeypatch.setattr(receiver_module, "get_decoder", receiver_module.get_decoder)
    passthrough.install()
    assert passthrough.installed()
    passthrough.install()  # idempotent

    media = EncodedMedia.synthetic(2.0, width=320, height=240)
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    clock = SharedClock()
    for track in media.tracks(clock):
        transceiver = sender.addTransceiver(track, direction="sendonly")
        codec = "h264" if track.kind == "video" else "opus"
        transceiver.setCodecPreferences(codec_preferences(track.kind, codec))
    received: dict[str, MediaStreamTrack] = {}
    receiver.on("track", lambda t: received.setdefault(t.kind, t))
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        video_receiver = next(t.receiver for t in receiver.getTransceivers() if t.kind == "video")
        sr_clock = SenderClock(video_receiver, 90000)

        frames = []
        for _ in range(45):  # 1.5 s of video
            frame = await asyncio.wait_for(received["video"].recv(), 10)
            sr_clock.observe(frame.timestamp)  # type: ignore[union-attr]
            frames.append(frame)
        audio = await asyncio.wait_for(received["audio"].recv(), 10)
    finally:
        await sender.close()
        await receiver.close()

    # encoded frames, not decoded pictures: identical NAL units to what was sent, in order
    first = media.video.index(next(p for p in media.video if bytes(p) and True))
    for got, sent in zip(frames, media.video[first:], strict=False):
        assert nal_units(got.data) == nal_units(bytes(sent))  # type: ignore[union-attr]
    assert is_keyframe("h264", frames[0].data)  # type: ignore[union-attr]
    assert [5, 7, 8] == sorted(set(h264_nal_types(frames[0].data)) & {5, 7, 8})  # type: ignore[union-attr]
    assert frames[30].timestamp - frames[0].timestamp == 90000  # type: ignore[union-attr]
    assert bytes(audio.data) in {bytes(p) for p in media.audio}  # type: ignore[union-attr]
    assert sr_clock.reports >= 1 and sr_clock.synced, "no RTCP sender report reached the clock"
    t0 = sr_clock.sender_time(frames[0].timestamp)  # type: ignore[union-attr]
    assert t0 is not None and sr_clock.mapped_at(t0) == frames[0].timestamp  # type: ignore[union-attr]


def test_opus_packet_durations_from_the_toc_byte() -> None:
    assert opus_samples(bytes([0x78, 0])) == 960  # CELT 20 ms, one frame
    assert opus_samples(bytes([0x08, 0])) == 960  # SILK 20 ms
    assert opus_samples(bytes([0x79, 0])) == 1920  # two 20 ms frames
    assert opus_samples(bytes([0x7B, 0x03])) == 2880  # code 3: three frames
    assert opus_samples(bytes([0x60])) == 480  # hybrid 10 ms
    assert opus_samples(b"") == 0
    media = EncodedMedia.synthetic(0.2, video=False)
    assert {opus_samples(bytes(p)) for p in media.audio} == {960}


def test_keyframe_detection() -> None:
    media = EncodedMedia.synthetic(1.0, width=160, height=120, gop_seconds=0.5, audio=False)
    assert [is_keyframe("h264", bytes(p)) for p in media.video] == [
        p.is_keyframe for p in media.video
    ]
    vp8 = EncodedMedia.synthetic(0.5, width=160, height=120, video_codec="vp8", audio=False)
    assert [is_keyframe("vp8", bytes(p)) for p in vp8.video] == [p.is_keyframe for p in vp8.video]
