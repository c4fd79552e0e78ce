"""The recorder's hooks into aiortc: frames come out encoded, bit-exact, on the event loop."""

from __future__ import annotations

import asyncio
import functools
import threading

import aiortc.rtcrtpreceiver as receiver_module
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.jitterbuffer import JitterFrame

from livetape.client.media import EncodedMedia
from livetape.client.pacing import SharedClock
from livetape.client.publisher import codec_preferences
from livetape.live import ingest
from livetape.live.clock import SenderClock
from livetape.recorder.bitstream import h264_nal_types, is_keyframe, opus_samples


def nal_units(access_unit: bytes) -> list[bytes]:
    """The NAL units of an Annex-B buffer, start codes removed (3- or 4-byte)."""
    parts = access_unit.split(b"\x00\x00\x01")
    return [p.rstrip(b"\x00") if i < len(parts) - 1 else p for i, p in enumerate(parts) if p]



def sending_pair(media: EncodedMedia) -> tuple[RTCPeerConnection, RTCPeerConnection]:
    """A real aiortc publisher of ``media`` (H.264 + Opus, paced) and a receiving peer, not
    connected yet (the test makes the offer and the answer)."""
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for track in media.tracks(SharedClock()):
        transceiver = sender.addTransceiver(track, direction="sendonly")
        codec = "h264" if track.kind == "video" else "opus"
        transceiver.setCodecPreferences(codec_preferences(track.kind, codec))
    return sender, receiver

async def test_attached_receivers_deliver_the_sent_frames_bit_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # restore aiortc's decoder thread function afterwards (hygiene: it is process-wide)
    monkeypatch.setattr(receiver_module, "decoder_worker", receiver_module.decoder_worker)
    ingest.install()
    assert ingest.installed()
    ingest.install()  # idempotent

    media = EncodedMedia.synthetic(2.0, width=320, height=240)
    sender, receiver = sending_pair(media)
    frames: dict[str, list[JitterFrame | None]] = {"audio": [], "video": []}
    enough = asyncio.Event()

    def collect(kind: str, frame: JitterFrame | None) -> None:
        frames[kind].append(frame)
        if len(frames["video"]) >= 45 and frames["audio"]:
            enough.set()

    threads_before = threading.active_count()
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        for transceiver in receiver.getTransceivers():
            ingest.attach(transceiver.receiver, functools.partial(collect, transceiver.kind))
        video_receiver = next(t.receiver for t in receiver.getTransceivers() if t.kind == "video")
        sr_clock = SenderClock(video_receiver, 90000)
        await sender.setRemoteDescription(receiver.localDescription)
        await asyncio.wait_for(enough.wait(), 15)
        # no decoder threads left running for attached receivers
        assert threading.active_count() <= threads_before + 1
    finally:
        await sender.close()
        await receiver.close()
    assert frames["video"][-1] is None, "closing must end the track (None delivered)"

    video = [f for f in frames["video"] if f is not None]
    for frame in video:
        sr_clock.observe(frame.timestamp)
    # encoded frames, not decoded pictures: the NAL units that were sent, in order
    for got, sent in zip(video, media.video, strict=False):
        assert nal_units(got.data) == nal_units(bytes(sent))
    assert is_keyframe("h264", video[0].data)
    assert {5, 7, 8} <= set(h264_nal_types(video[0].data))
    assert video[30].timestamp - video[0].timestamp == 90000
    audio = frames["audio"][0]
    assert audio is not None and bytes(audio.data) in {bytes(p) for p in media.audio}
    assert sr_clock.reports >= 1 and sr_clock.synced, "no RTCP sender report reached the clock"
    t0 = sr_clock.sender_time(video[0].timestamp)
    assert t0 is not None and sr_clock.mapped_at(t0) == video[0].timestamp


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
