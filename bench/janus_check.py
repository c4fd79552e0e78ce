"""Publish N pre-encoded H.264 + Opus streams into Janus for a few seconds and report its cost.

Usage: ``.venv/bin/python bench/janus_check.py [N] [--seconds 10]``

Each stream is an aiortc peer whose tracks return pre-encoded ``av.Packet`` objects paced to
real time (aiortc packetizes them without re-encoding), so the sender side stays cheap. The
media (720p30 H.264 ~2 Mbit/s, Annex-B with SPS/PPS on every keyframe, keyint 30, no
B-frames; Opus 20 ms) is encoded once with PyAV and looped. Prints Janus's CPU seconds per
stream-second over the steady-state window, its peak RSS, and frames sent vs recorded.

The minimal sender here is a stand-in until livetape's own publisher (src/livetape/client/)
exists.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from janus_ref import (
    JanusRef,
    Publisher,
    count_container_packets,
    postprocess,
    pp_rec_binary,
    recorded_frames,
)

WIDTH, HEIGHT, FPS = 1280, 720, 30
VIDEO_BITRATE = 2_000_000
VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_FRAME = 960  # 20 ms at 48 kHz
LOOP_SECONDS = 10  # length of the pre-encoded clip that every stream loops


@dataclass(frozen=True)
class EncodedClip:
    """Pre-encoded packets of one kind, looped by the tracks."""

    payloads: list[bytes]
    keyframes: list[bool]
    ticks_per_packet: int  # RTP clock ticks between packets
    clock_rate: int

    @property
    def period(self) -> float:
        """Seconds between packets."""
        return self.ticks_per_packet / self.clock_rate

    @property
    def bitrate(self) -> float:
        """Average bits per second of the clip."""
        return sum(map(len, self.payloads)) * 8 / (len(self.payloads) * self.period)


def encode_video(seconds: int = LOOP_SECONDS) -> EncodedClip:
    """720p30 H.264 (libx264 ultrafast/zerolatency, keyint 30, no B-frames), Annex-B."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.bit_rate = VIDEO_BITRATE
    codec.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        # repeat-headers: SPS/PPS in-band before every IDR (no global header -> Annex-B).
        "x264-params": (
            "keyint=30:min-keyint=30:scenecut=0:bframes=0:repeat-headers=1"
            f":vbv-maxrate={VIDEO_BITRATE // 1000}:vbv-bufsize={VIDEO_BITRATE // 1000}"
        ),
    }
    rng = np.random.default_rng(1)
    # Noise that moves each frame gives the encoder real work, so the bitrate reaches target.
    noise = rng.integers(0, 256, size=(HEIGHT * 3 // 2 + 64, WIDTH + 64), dtype=np.uint8)
    ramp = np.tile(np.arange(WIDTH, dtype=np.uint16), (HEIGHT * 3 // 2, 1))
    payloads: list[bytes] = []
    keyframes: list[bool] = []
    for i in range(seconds * FPS):
        dy, dx = (i * 3) % 64, (i * 5) % 64
        plane = (ramp + i * 4) % 256 // 2 + noise[dy : dy + HEIGHT * 3 // 2, dx : dx + WIDTH] // 2
        frame = av.VideoFrame.from_ndarray(plane.astype(np.uint8), format="yuv420p")
        frame.pts = i
        for packet in codec.encode(frame):
            payloads.append(bytes(packet))
            keyframes.append(bool(packet.is_keyframe))
    for packet in codec.encode(None):
        payloads.append(bytes(packet))
        keyframes.append(bool(packet.is_keyframe))
    # Annex-B with SPS (NAL 7) before each IDR: the recording must be decodable from any GOP.
    assert payloads[0].startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))
    assert all(b"\x00\x00\x01\x67" in p for p, k in zip(payloads, keyframes, strict=True) if k)
    return EncodedClip(payloads, keyframes, VIDEO_CLOCK // FPS, VIDEO_CLOCK)


def encode_audio(seconds: int = LOOP_SECONDS) -> EncodedClip:
    """Opus 48 kHz stereo, 20 ms packets, of a 440 Hz tone with a little noise."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = AUDIO_RATE, "stereo", "s16"
    codec.bit_rate = 64_000
    codec.time_base = fractions.Fraction(1, AUDIO_RATE)
    rng = np.random.default_rng(2)
    payloads: list[bytes] = []
    t = np.arange(seconds * AUDIO_RATE) / AUDIO_RATE
    mono = 8000 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 300, t.size)
    samples = np.repeat(mono.astype(np.int16), 2)  # interleaved stereo
    for i in range(seconds * AUDIO_RATE // AUDIO_FRAME):
        chunk = samples[i * AUDIO_FRAME * 2 : (i + 1) * AUDIO_FRAME * 2].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = AUDIO_RATE, i * AUDIO_FRAME
        payloads.extend(bytes(p) for p in codec.encode(frame))
    # No flush: its last packet is a short padded tail that would break the 20 ms loop.
    return EncodedClip(payloads, [True] * len(payloads), AUDIO_FRAME, AUDIO_RATE)


class EncodedTrack(MediaStreamTrack):
    """A track whose recv() returns pre-encoded av.Packets paced to real time."""

    def __init__(self, kind: str, clip: EncodedClip) -> None:
        super().__init__()
        self.kind = kind
        self.clip = clip
        self.sent = 0
        self._start: float | None = None
        self._time_base = fractions.Fraction(1, clip.clock_rate)

    async def recv(self) -> av.Packet[Any]:
        """Next packet, no earlier than its due time (first call = time 0)."""
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        delay = self._start + self.sent * self.clip.period - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.readyState != "live":  # stopped while sleeping: do not count it as sent
            raise MediaStreamError
        packet = av.Packet(self.clip.payloads[self.sent % len(self.clip.payloads)])
        packet.pts = packet.dts = self.sent * self.clip.ticks_per_packet
        packet.time_base = self._time_base
        self.sent += 1
        return packet


@dataclass
class Stream:
    """One publishing peer."""

    pc: RTCPeerConnection
    video: EncodedTrack
    audio: EncodedTrack
    publisher: Publisher


def _prefer(sender_kind: str, mime: str, fmtp: dict[str, str]) -> list[RTCRtpCodecCapability]:
    """Codec preference list: the wanted codec (matching fmtp) first, then its RTX."""
    caps = RTCRtpSender.getCapabilities(sender_kind).codecs
    wanted = [
        c
        for c in caps
        if c.mimeType.lower() == mime.lower()
        and all(c.parameters.get(k) == v for k, v in fmtp.items())
    ]
    if not wanted:
        raise RuntimeError(f"aiortc has no {mime} {fmtp}")
    return wanted + [c for c in caps if c.mimeType.lower().endswith("/rtx")]


async def open_stream(janus: JanusRef, video: EncodedClip, audio: EncodedClip) -> Stream:
    """Create a sendonly aiortc peer with H.264 (packetization-mode=1) + Opus and publish it."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    vtrack, atrack = EncodedTrack("video", video), EncodedTrack("audio", audio)
    vtx = pc.addTransceiver(vtrack, direction="sendonly")
    vtx.setCodecPreferences(
        _prefer("video", "video/H264", {"packetization-mode": "1", "profile-level-id": "42e01f"})
    )
    atx = pc.addTransceiver(atrack, direction="sendonly")
    atx.setCodecPreferences(_prefer("audio", "audio/opus", {}))
    await pc.setLocalDescription(await pc.createOffer())  # gathers all candidates
    answer, leave = await janus.publish(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return Stream(pc, vtrack, atrack, leave)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


async def run(n: int, seconds: float, keep: bool, cross_check: bool) -> int:
    """Publish ``n`` streams for ``seconds`` and print the table; returns an exit status."""
    t = time.monotonic()
    video, audio = encode_video(), encode_audio()
    print(
        f"media: {len(video.payloads)} video frames {video.bitrate / 1e6:.2f} Mbit/s, "
        f"{len(audio.payloads)} opus packets {audio.bitrate / 1e3:.0f} kbit/s, "
        f"encoded in {time.monotonic() - t:.1f} s",
        file=sys.stderr,
    )
    janus = JanusRef()
    streams: list[Stream] = []
    await janus.start()
    try:
        idle_cpu = janus.cpu_seconds()
        streams = [await open_stream(janus, video, audio) for _ in range(n)]
        await asyncio.wait_for(
            asyncio.gather(*(s.publisher.webrtc_up.wait() for s in streams)), timeout=15
        )
        # Let DTLS setup and the first keyframes settle before the steady-state window.
        await asyncio.sleep(1.0)
        cpu0, t0 = janus.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, elapsed = janus.cpu_seconds(), time.monotonic() - t0
        for s in streams:  # stop the sources, let the last packets land, then leave
            s.video.stop()
            s.audio.stop()
        await asyncio.sleep(0.5)
        for s in streams:
            await s.publisher()
    finally:
        for s in streams:
            await s.pc.close()
        await janus.stop()
    total_cpu = janus.cpu_seconds() - idle_cpu
    peak_rss = janus.peak_rss_bytes()

    recordings = recorded_frames(janus.record_dir)
    print()
    print(f"Janus {janus.server_info.get('version_string')}  workdir {janus.workdir}")
    print(
        f"{'N':>2} {'window s':>8} {'CPU-s':>6} {'CPU-s/stream-s':>14} {'peak RSS MB':>11} "
        f"{'CPU-s incl. setup':>17}"
    )
    print(
        f"{n:>2} {elapsed:>8.1f} {cpu1 - cpu0:>6.2f} {(cpu1 - cpu0) / (n * elapsed):>14.4f} "
        f"{_mb(peak_rss):>11} {total_cpu:>17.2f}"
    )
    print()
    print(
        f"{'stream':>6} {'v sent':>7} {'v rec':>7} {'v pkts':>7} {'v lost':>6} {'keyfr':>5} "
        f"{'a sent':>7} {'a rec':>7} {'a lost':>6} {'v MB':>6} {'a MB':>6}  recording"
    )
    ok = True
    for i, s in enumerate(streams):
        tag = f"-user-{s.publisher.publisher_id}"
        rec = next((r for name, r in recordings.items() if name.endswith(tag)), None)
        if rec is None or rec.video is None or rec.audio is None:
            print(f"{i:>6} no recording found for publisher {s.publisher.publisher_id}")
            ok = False
            continue
        files = [rec.video.path, rec.audio.path]
        vmb, amb = (_mb(p.stat().st_size) for p in files)
        print(
            f"{i:>6} {s.video.sent:>7} {rec.video_frames:>7} {rec.video_packets:>7} "
            f"{rec.video.lost:>6} {rec.video.keyframes:>5} {s.audio.sent:>7} "
            f"{rec.audio_packets:>7} {rec.audio.lost:>6} {vmb:>6} {amb:>6}  {rec.name}"
        )
        ok = ok and rec.video_frames >= 0.98 * s.video.sent

    if cross_check and pp_rec_binary():
        # janus-pp-rec is Janus's own post-processor: a second opinion on the .mjr counts. It
        # runs after janus stopped, so it is not part of any measured CPU.
        print()
        counted = {f.path: f.frames for r in recordings.values() for f in r.files}
        for mjr, out in postprocess(janus.record_dir, janus.workdir / "converted").items():
            print(
                f"janus-pp-rec {out.name}: {count_container_packets(out)} packets "
                f"(mjr count: {counted.get(mjr)})"
            )
    if not keep:
        janus.cleanup()
    return 0 if ok else 1


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1, help="number of streams (1)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window (10)")
    parser.add_argument("--keep", action="store_true", help="keep config, log and recordings")
    parser.add_argument(
        "--no-cross-check", action="store_true", help="skip the janus-pp-rec conversion"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    return asyncio.run(run(args.n, args.seconds, args.keep, not args.no_cross_check))


if __name__ == "__main__":
    sys.exit(main())
