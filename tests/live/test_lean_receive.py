"""The guards of livetape.live.lean_receive: the code it rests on is the pinned one, and with
real aiortc peers each change takes (no STUN parse per media datagram, no REMB) while the
frames still arrive bit-exact, with receiver reports and sender reports flowing.

The recordings themselves (A/V sync, segment cuts, idle close) are checked end to end by
tests/recorder and tests/live with these changes in place.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import aioice
import aiortc
import aiortc.rtcrtpreceiver as receiver_module
import pytest
from aioice import stun
from aioice.ice import StunProtocol
from aiortc.jitterbuffer import JitterFrame
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtcpRrPacket

from livetape.client.media import EncodedMedia
from livetape.live import ingest, lean_receive
from tests.live.test_ingest import sending_pair

# --- the source guards ---------------------------------------------------------------------


def test_pinned_versions() -> None:
    assert aiortc.__version__ == "1.16.0"
    assert aioice.__version__ == "0.13.0"


@pytest.mark.parametrize("name", sorted(lean_receive.PATCHED_SOURCES))
def test_code_the_changes_rest_on_is_unchanged(name: str) -> None:
    assert name not in lean_receive.changed_sources(), (
        f"{name} is not the code livetape.live.lean_receive was written against: check each "
        "change still holds (or is no longer needed), then update PATCHED_SOURCES"
    )


# --- real peers ----------------------------------------------------------------------------


class _Counted:
    """Counts calls of a function while passing them on."""

    def __init__(self, function: Any) -> None:
        self.function, self.calls = function, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.function(*args, **kwargs)


async def _exchange(lean: bool, answers: list[str]) -> tuple[
        list[JitterFrame], list[Any], EncodedMedia]:
    """A real aiortc publisher sends H.264 + Opus to a receiver whose receivers are attached
    as livetape attaches them (``lean``: also without bandwidth estimation); returns the video
    frames delivered and the RTCP packets the video receiver sent (its answer to ``answers``)."""
    media = EncodedMedia.synthetic(3.0, width=320, height=240)
    sender, receiver = sending_pair(media)
    video: list[JitterFrame] = []
    sent_rtcp: list[Any] = []
    enough = asyncio.Event()

    def collect(kind: str, frame: JitterFrame | None) -> None:
        if kind == "video" and frame is not None:
            video.append(frame)
            if len(video) >= 75:  # 2.5 s
                enough.set()

    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        if lean:
            for transceiver in receiver.getTransceivers():
                lean_receive.skip_send_time(transceiver)
        await receiver.setLocalDescription(await receiver.createAnswer())
        answers.append(receiver.localDescription.sdp)
        for transceiver in receiver.getTransceivers():
            ingest.attach(transceiver.receiver, functools.partial(collect, transceiver.kind))
            if lean:
                lean_receive.skip_bandwidth_estimation(transceiver.receiver)
            if transceiver.kind == "video":
                rtp_receiver: RTCRtpReceiver = transceiver.receiver
                original = rtp_receiver._send_rtcp

                async def record(packet: Any, original: Any = original) -> None:
                    sent_rtcp.append(packet)
                    await original(packet)

                rtp_receiver._send_rtcp = record  # type: ignore[method-assign]
        await sender.setRemoteDescription(receiver.localDescription)
        await asyncio.wait_for(enough.wait(), 20)
        await asyncio.sleep(1.6)  # at least one receiver report (every 0.5-1.5 s)
    finally:
        await sender.close()
        await receiver.close()
    return video, sent_rtcp, media


def _remb(packets: list[Any]) -> list[Any]:
    return [p for p in packets if isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_APP]


async def test_media_skips_the_stun_parse_and_remb_while_frames_arrive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # aiortc's decoder-thread hook and aioice's method are process-wide: restore both after
    monkeypatch.setattr(receiver_module, "decoder_worker", receiver_module.decoder_worker)
    monkeypatch.setattr(StunProtocol, "datagram_received", StunProtocol.datagram_received)
    parses = _Counted(stun.parse_message)  # aioice.ice calls it as stun.parse_message
    monkeypatch.setattr(stun, "parse_message", parses)
    estimates = _Counted(RemoteBitrateEstimator.add)
    monkeypatch.setattr(RemoteBitrateEstimator, "add",
                        lambda *args, **kwargs: estimates(*args, **kwargs))

    # aioice and aiortc as shipped: every media datagram is parsed as STUN, every video
    # packet feeds the REMB estimator
    monkeypatch.setattr(StunProtocol, "datagram_received",
                        lean_receive.original_datagram_received)
    answers: list[str] = []
    video, rtcp, media = await _exchange(lean=False, answers=answers)
    stock_parses = parses.calls
    assert stock_parses > len(video), "aioice no longer parses media as STUN: drop change 1"
    assert estimates.calls >= len(video), "aiortc no longer estimates: drop change 2"
    assert lean_receive.ABS_SEND_TIME in answers[0], "aiortc no longer asks for abs-send-time"

    # with livetape's changes: STUN still parsed (checks, consent), media not; no REMB
    parses.calls = estimates.calls = 0
    lean_receive.install()
    lean_receive.install()  # idempotent
    assert lean_receive.installed()
    video, rtcp, media = await _exchange(lean=True, answers=answers)
    assert parses.calls < stock_parses / 5
    assert parses.calls > 0, "ICE checks must still reach aioice's STUN handling"
    assert estimates.calls == 0 and not _remb(rtcp)
    assert lean_receive.ABS_SEND_TIME not in answers[1]
    assert "urn:ietf:params:rtp-hdrext:sdes:mid" in answers[1]  # the other extensions stay
    assert any(isinstance(p, RtcpRrPacket) for p in rtcp), "receiver reports must stay"
    # the frames are the ones sent, in order, from the first key frame on
    assert len(video) >= 75
    assert [_nals(bytes(f.data)) for f in video[:60]] == [
        _nals(bytes(p)) for p in media.video[:60]]


def _nals(access_unit: bytes) -> list[bytes]:
    parts = access_unit.split(b"\x00\x00\x01")
    return [p.rstrip(b"\x00") if i < len(parts) - 1 else p for i, p in enumerate(parts) if p]


def test_skip_bandwidth_estimation_refuses_an_unknown_receiver() -> None:
    class NotAReceiver:
        pass

    with pytest.raises(RuntimeError, match="unsupported version"):
        lean_receive.skip_bandwidth_estimation(NotAReceiver())  # type: ignore[arg-type]
