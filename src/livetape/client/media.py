"""Pre-encoded media for test and load publishers, and aiortc tracks that send it paced.

aiortc's RTCRtpSender packs an ``av.Packet`` returned by ``track.recv()`` as-is (no
re-encoding; the RTP timestamp comes from ``packet.pts * packet.time_base``), so these
tracks cost little CPU and many publishers can run on one machine.

Timeline: video packets use time base 1/90000 and audio 1/48000 (the RTP clocks), both
counted from one origin. An audio packet's pts is the time of the first sample a decoder
outputs for it *without* Opus pre-skip, which is how a WebRTC receiver plays it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import numpy as np

from livetape.client.pacing import PacedPacketTrack, Packet, SharedClock
from livetape.client.pacing import packet_time as _time

logger = logging.getLogger(__name__)

VIDEO_TIME_BASE = Fraction(1, 90000)
AUDIO_TIME_BASE = Fraction(1, 48000)
AUDIO_RATE = 48000
OPUS_FRAME = 960  # 20 ms at 48 kHz
FLASH_OFFSET = 0.5  # first flash/beep: not at t=0, where every stream starts anyway
FLASH_FRAMES = 2
BEEP_SECONDS = 0.1
BEEP_HZ = 1000.0


@dataclass(frozen=True, eq=False)
class EncodedMedia:
    """Pre-encoded packets plus metadata; see the module docstring for the timeline.

    Video is H.264 Annex-B (SPS+PPS in-band before every IDR, no B-frames, pts == dts) or
    VP8; audio is Opus at 48 kHz in 20 ms packets. ``keyframe_interval`` is in frames (the
    most common distance; 0 if fewer than two keyframes). ``flash_times`` lists the
    intended flash/beep onsets in seconds (synthetic media only).
    """

    video: list[Packet]
    audio: list[Packet]
    video_codec: str | None
    width: int
    height: int
    fps: float
    keyframe_interval: int
    duration: float
    audio_channels: int = 1
    flash_times: tuple[float, ...] = ()

    @property
    def video_frame_count(self) -> int:
        """Number of video packets (one frame each)."""
        return len(self.video)

    @property
    def audio_packet_count(self) -> int:
        """Number of Opus packets."""
        return len(self.audio)

    @classmethod
    def synthetic(
        cls, seconds: float, *, width: int = 640, height: int = 360, fps: int = 30,
        video_bitrate: int = 1_000_000, gop_seconds: float = 1.0, video_codec: str = "h264",
        audio: bool = True, video: bool = True, flash_every: float | None = 3.0,
    ) -> EncodedMedia:
        """Encode a dark moving pattern and near-silence, with optional flash+beep marks.

        With ``flash_every`` set, a flash (``FLASH_FRAMES`` white frames) and a 100 ms 1 kHz
        beep start at the same instant t = 0.5 + k * flash_every (k = 0, 1, ... while the
        flash fits), rounded to a frame. Scene-cut keyframes are off, so keyframes come
        exactly every ``gop_seconds``. Audio is padded to whole 20 ms packets.
        """
        if video_codec not in ("h264", "vp8"):
            raise ValueError(f"video_codec must be 'h264' or 'vp8', not {video_codec!r}")
        n_frames, gop = max(1, round(seconds * fps)), max(1, round(gop_seconds * fps))
        flashes: list[int] = []
        while flash_every and (
            (f := round((FLASH_OFFSET + len(flashes) * flash_every) * fps)) + FLASH_FRAMES
            <= n_frames
        ):
            flashes.append(f)
        n_samples = -(-n_frames * AUDIO_RATE // fps // OPUS_FRAME) * OPUS_FRAME  # ceil
        vpk, apk, ends = [], [], [0.0]
        if video:
            white = {f + j for f in flashes for j in range(FLASH_FRAMES)}
            vpk = _encode_video(n_frames, width, height, fps, video_bitrate, gop, video_codec,
                                white)
            ends.append(n_frames / fps)
        if audio:
            onsets = [f * AUDIO_RATE // fps for f in flashes]  # the flash frame's instant
            apk = _encode_opus_samples(_audio_signal(n_samples, onsets))
            ends.append(n_samples / AUDIO_RATE)
        return cls(video=_timed(vpk, fps), audio=_timed(apk, 0),
                   video_codec=video_codec if video else None, width=width if video else 0,
                   height=height if video else 0, fps=float(fps),
                   keyframe_interval=gop if video else 0, duration=max(ends),
                   flash_times=tuple(f / fps for f in flashes))

    @classmethod
    def from_file(cls, path: str | Path) -> EncodedMedia:
        """Demux a file (MP4/MKV/WebM, H.264 or VP8, any audio) without re-encoding video.

        H.264 goes through FFmpeg's ``h264_mp4toannexb`` filter, which turns avcC into
        Annex-B and inserts SPS/PPS before IDRs. Audio that is not Opus is transcoded to Opus.
        Files with B-frames are refused (WebRTC's baseline H.264 has none).
        """
        vraw, (codec, width, height, fps) = _demux_video(str(path))
        araw, channels = _demux_audio(str(path))
        if any(b[0] < a[0] for a, b in pairwise(vraw)):
            raise ValueError(f"{path}: video has B-frames (pts out of order)")
        # One origin for both streams keeps their relative offset (A/V sync) intact.
        origin = min([raw[0][0] for raw in (vraw, araw) if raw], default=Fraction(0))
        video = _timed([_rebased(p, t - origin, VIDEO_TIME_BASE) for t, p in vraw], fps)
        audio = _timed([_rebased(p, t - origin, AUDIO_TIME_BASE) for t, p in araw], 0)
        keys = [i for i, p in enumerate(video) if p.is_keyframe]
        gaps = Counter(b - a for a, b in pairwise(keys))
        ends = [float(_time(p) + (p.duration or 0) * p.time_base) for p in video[-1:] + audio[-1:]]
        return cls(video=video, audio=audio, video_codec=codec, width=width, height=height,
                   fps=fps, keyframe_interval=gaps.most_common(1)[0][0] if gaps else 0,
                   duration=max(ends, default=0.0), audio_channels=channels)

    def tracks(self, clock: SharedClock, *, loop: bool = False) -> list[PacedPacketTrack]:
        """One paced track per kind present (audio first), all on ``clock``."""
        tracks = [PacedPacketTrack(kind, pkts, tb, clock, period=self.duration, loop=loop)
                  for kind, pkts, tb in (("audio", self.audio, AUDIO_TIME_BASE),
                                         ("video", self.video, VIDEO_TIME_BASE)) if pkts]
        clock.parties = len(tracks)
        return tracks


def _rebased(packet: Packet, t: Fraction, time_base: Fraction) -> Packet:
    packet.pts = packet.dts = round(t / time_base)
    packet.time_base = time_base
    return packet


def _timed(packets: list[Packet], fps: float) -> list[Packet]:
    """Set each packet's duration to the gap to the next (the last: one frame), for muxers."""
    for a, b in pairwise(packets):
        a.duration = round((_time(b) - _time(a)) / a.time_base)
    if packets:
        packets[-1].duration = round(90000 / fps) if fps else OPUS_FRAME
    return packets


def _demux_video(path: str) -> tuple[list[tuple[Fraction, Packet]], tuple[Any, int, int, float]]:
    with av.open(path) as container:
        if not container.streams.video:
            return [], (None, 0, 0, 0.0)
        vs = container.streams.video[0]
        name = vs.codec_context.name
        if name not in ("h264", "vp8"):
            raise ValueError(f"{path}: unsupported video codec {name!r}")
        packets = [pkt for pkt in container.demux(vs) if pkt.size]
        if name == "h264":
            bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", vs)
            packets = [out for pkt in [*packets, None] for out in bsf.filter(pkt)]
        info = (name, vs.codec_context.width, vs.codec_context.height,
                float(vs.guessed_rate or vs.average_rate or 30))
    return [(_time(p), p) for p in packets], info


def _demux_audio(path: str) -> tuple[list[tuple[Fraction, Packet]], int]:
    with av.open(path) as container:
        if not container.streams.audio:
            return [], 1
        ast = container.streams.audio[0]
        channels = min(2, ast.codec_context.channels)
        if ast.codec_context.name == "opus":
            return [(_time(p), p) for p in container.demux(ast) if p.size], channels
        logger.info("%s: transcoding %s audio to Opus", path, ast.codec_context.name)
        # Encoder pts lead the input by the encoder delay, as the module docstring wants.
        packets = _to_opus(container.decode(ast), channels)
    return [(_time(p), p) for p in packets], channels


def _encode_video(n_frames: int, width: int, height: int, fps: int, bitrate: int, gop: int,
                  codec: str, white: set[int]) -> list[Packet]:
    if codec == "h264":
        ctx = av.CodecContext.create("libx264", "w")
        # x264 repeats SPS/PPS before every IDR because no global header is requested.
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency",
                       "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"}
        ctx.profile = "Constrained Baseline"  # what aiortc and browsers negotiate (42e01f)
    else:
        ctx = av.CodecContext.create("libvpx", "w")
        ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
                       "auto-alt-ref": "0", "keyint_min": str(gop)}
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, fps), Fraction(fps)
    ctx.bit_rate, ctx.gop_size, ctx.max_b_frames = bitrate, gop, 0
    yuv = np.full((height * 3 // 2, width), 128, np.uint8)
    ramp = (np.arange(width, dtype=np.uint16) * 24 // width + 20).astype(np.uint8)
    packets: list[Packet] = []
    for i in range(n_frames + 1):  # the last round flushes the encoder
        frame: av.VideoFrame | None = None
        if i < n_frames:
            if i in white:
                yuv[:height] = 235
            else:  # dark ramp with a moving grey box, so every frame differs
                yuv[:height] = np.roll(ramp, i * 4)
                x, y = (i * 7) % (width - 48), (i * 3) % (height - 48)
                yuv[y:y + 48, x:x + 48] = 90
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = i
        packets += ctx.encode(frame)
    return [_rebased(p, _time(p), VIDEO_TIME_BASE) for p in packets]


def _audio_signal(n_samples: int, onsets: list[int]) -> np.ndarray:
    rng = np.random.default_rng(0)  # low noise rather than digital silence; deterministic
    n_beep = round(BEEP_SECONDS * AUDIO_RATE)
    signal = rng.normal(0.0, 0.0005, n_samples + n_beep).astype(np.float32)
    beep = 0.5 * np.sin(2 * np.pi * BEEP_HZ * np.arange(n_beep) / AUDIO_RATE)
    beep[-48:] *= np.linspace(1.0, 0.0, 48)  # soft end; the onset stays sharp on purpose
    for s in onsets:
        signal[s:s + n_beep] = beep
    return np.asarray(signal[:n_samples])


def _to_opus(frames: Iterable[av.AudioFrame | np.ndarray], channels: int) -> list[Packet]:
    """Opus packets (with encoder pts) from frames, or from mono s16 arrays starting at 0."""
    enc = av.CodecContext.create("libopus", "w")
    assert isinstance(enc, av.AudioCodecContext)
    enc.sample_rate, enc.format, enc.time_base = AUDIO_RATE, "s16", AUDIO_TIME_BASE
    enc.layout, enc.bit_rate = "mono" if channels == 1 else "stereo", 64000 * channels
    chunker = av.AudioResampler(format="s16", layout=enc.layout, rate=AUDIO_RATE,
                                frame_size=OPUS_FRAME)
    packets: list[Packet] = []
    for frame in [*frames, None]:
        if isinstance(frame, np.ndarray):
            frame = av.AudioFrame.from_ndarray(frame[None], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, 0, AUDIO_TIME_BASE
        for chunk in chunker.resample(frame):
            packets += enc.encode(chunk)
    return packets + enc.encode(None)


def _encode_opus_samples(signal: np.ndarray) -> list[Packet]:
    """Encode mono float samples so packet k (pts k*960) decodes to signal[k*960:]."""
    pcm = (np.clip(signal, -1, 1) * 32767).astype(np.int16)
    # libopus delays its output (312 samples here): measure it, then feed the signal that
    # much early, so a decoder that applies no pre-skip (a WebRTC receiver) plays it on time.
    delay = -_time(_to_opus([np.zeros(OPUS_FRAME, np.int16)], 1)[0])
    shift = round(delay / AUDIO_TIME_BASE)
    packets = _to_opus([np.concatenate([pcm[shift:], np.zeros(shift, np.int16)])], 1)
    packets = [_rebased(p, _time(p) + delay, AUDIO_TIME_BASE) for p in packets]
    return [p for p in packets if _time(p) < len(pcm) * AUDIO_TIME_BASE]
