"""Test-media helpers: write EncodedMedia to a file, and measure A/V marks in files.

``flash_times`` and ``beep_times`` find the marks that ``EncodedMedia.synthetic`` puts in
its video (white frames) and audio (1 kHz beeps), so tests can check A/V sync, gaps and
timing of recordings. ``probe`` summarises a file for assertions.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import numpy as np

from livetape.client.media import AUDIO_RATE, EncodedMedia
from livetape.recorder.bitstream import h264_nal_types as nal_types
from livetape.recorder.bitstream import opus_samples

__all__ = ["beep_times", "compare_pictures", "decode_video", "flash_times", "nal_types", "probe",
           "sync_offsets", "write_media_file"]

WHITE_LUMA = 128.0  # mean luma above this is a flash; the synthetic pattern stays below ~60
BEEP_RMS = 0.05  # 1 ms RMS above this is a beep; the synthetic noise floor is ~0.0005
MIN_GAP = 0.25  # seconds of quiet/dark needed before a new onset counts


def opus_head(channels: int, pre_skip: int = 0) -> bytes:
    """An OpusHead (RFC 7845) for Opus extradata in MP4/Matroska."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, AUDIO_RATE, 0, 0)


def write_media_file(path: str | Path, media: EncodedMedia) -> Path:
    """Mux ``media`` without re-encoding (MP4 for H.264; use .webm/.mkv for VP8).

    Opus gets pre-skip 0: packet pts already mark what a decoder outputs (see media.py).
    """
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_mux_stream(media.video_codec, width=media.width, height=media.height,
                                time_base=Fraction(1, 90000)) if media.video else None
        ast = None
        if media.audio:
            # add_mux_stream cannot take extradata; an opened libopus context can.
            layout = "mono" if media.audio_channels == 1 else "stereo"
            ast = out.add_stream("libopus", rate=AUDIO_RATE, layout=layout)
            ast.codec_context.open()
            ast.codec_context.extradata = opus_head(media.audio_channels)
        for stream, packets in ((vs, media.video), (ast, media.audio)):
            for src in packets:
                p = av.Packet(bytes(src))
                p.pts, p.dts, p.time_base = src.pts, src.dts, src.time_base
                p.is_keyframe, p.duration = src.is_keyframe, src.duration
                p.stream = stream  # type: ignore[assignment]
                out.mux(p)
    return path


def _onsets(times: np.ndarray, active: np.ndarray, min_gap: float) -> list[float]:
    """Times where ``active`` turns on after at least ``min_gap`` seconds off."""
    found: list[float] = []
    last_on = -np.inf
    for t, on in zip(times, active, strict=True):
        if on:
            if t - last_on >= min_gap:
                found.append(float(t))
            last_on = t
    return found


def flash_onsets(
    times: list[float], lumas: list[float], *, min_gap: float = MIN_GAP
) -> list[float]:
    """Times at which the mean luma of frames jumps above ``WHITE_LUMA``."""
    return _onsets(np.array(times), np.array(lumas) > WHITE_LUMA, min_gap)


def flash_times(path: str | Path, *, min_gap: float = MIN_GAP) -> list[float]:
    """Presentation times (s) of the first frame of each flash (mean luma jumps to white)."""
    times, lumas = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            assert frame.time is not None
            times.append(frame.time)
            lumas.append(float(frame.to_ndarray(format="gray").mean()))
    return flash_onsets(times, lumas, min_gap=min_gap)


def _mono(frame: av.AudioFrame) -> np.ndarray:
    a = frame.to_ndarray()
    if not frame.format.is_planar:
        a = a.reshape(-1, len(frame.layout.channels)).T
    if a.dtype.kind == "i":
        a = a.astype(np.float32) / np.iinfo(a.dtype).max
    return np.asarray(a.astype(np.float32).mean(axis=0))


def decode_audio(path: str | Path) -> tuple[np.ndarray, int, float]:
    """Mono float32 samples placed by their timestamps (gaps stay 0), rate, start time (s)."""
    chunks: list[tuple[float, np.ndarray]] = []
    rate = AUDIO_RATE
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            assert frame.time is not None
            rate = frame.sample_rate
            chunks.append((frame.time, _mono(frame)))
    if not chunks:
        return np.zeros(0, np.float32), rate, 0.0
    start = chunks[0][0]
    end = max(round((t - start) * rate) + len(a) for t, a in chunks)
    samples = np.zeros(end, np.float32)
    for t, a in chunks:
        i = round((t - start) * rate)
        samples[i:i + len(a)] = a
    return samples, rate, start


def beep_onsets(samples: np.ndarray, rate: int, start: float = 0.0, *,
                min_gap: float = MIN_GAP) -> list[float]:
    """Onsets (s) of beeps in mono samples: 1 ms RMS above ``BEEP_RMS``, refined to the
    first sample above it in that window or the one before."""
    win = rate // 1000
    n = len(samples) // win
    rms = np.sqrt((samples[: n * win].reshape(n, win) ** 2).mean(axis=1))
    found = []
    for t in _onsets(np.arange(n) / 1000.0, rms > BEEP_RMS, min_gap):
        i0 = max(0, round(t * 1000) - 1) * win
        loud = np.nonzero(np.abs(samples[i0:i0 + 2 * win]) > BEEP_RMS)[0]
        found.append(start + (i0 + (int(loud[0]) if len(loud) else win)) / rate)
    return found


def beep_times(path: str | Path, *, min_gap: float = MIN_GAP) -> list[float]:
    """Presentation times (s) of the onsets of the 1 kHz beeps in a file's first audio stream."""
    samples, rate, start = decode_audio(path)
    return beep_onsets(samples, rate, start, min_gap=min_gap)


def probe(path: str | Path, *, decode: bool = True) -> dict[str, Any]:
    """Summary: ``duration``, ``format`` and ``video``/``audio`` dicts (None if absent) with
    codec, packet count, decoded frame count (if ``decode``), whether the first packet is a
    keyframe, size or rate/channels, and start/end times (s) of the packets."""
    with av.open(str(path)) as container:
        summary: dict[str, Any] = {
            "duration": (container.duration or 0) / av.time_base,
            "format": container.format.name, "video": None, "audio": None,
        }
        for s in (*container.streams.video[:1], *container.streams.audio[:1]):
            cc = s.codec_context
            summary[s.type] = {"codec": cc.name} | (
                {"width": cc.width, "height": cc.height} if s.type == "video"
                else {"sample_rate": cc.sample_rate, "channels": cc.channels})
    for kind in ("video", "audio"):
        info = summary[kind]
        if info is None:
            continue
        with av.open(str(path)) as container:
            packets = [p for p in container.demux(**{kind: 0}) if p.size]
        info["packets"] = len(packets)
        info["first_keyframe"] = bool(packets) and packets[0].is_keyframe
        times = [(p.pts * p.time_base, (p.pts + (p.duration or 0)) * p.time_base)
                 for p in packets if p.pts is not None]
        info["start"] = float(min(t[0] for t in times)) if times else None
        info["end"] = float(max(t[1] for t in times)) if times else None
        if decode:
            with av.open(str(path)) as container:
                frames = list(container.decode(**{kind: 0}))
            info["frames"] = len(frames)
            if kind == "audio":
                info["samples"] = sum(f.samples for f in frames)
    return summary


def picture_digests(frames: Iterable[av.VideoFrame]) -> list[tuple[float, str]]:
    return [(float(f.time or 0.0), hashlib.sha256(f.to_ndarray(format="yuv420p").tobytes())
             .hexdigest()) for f in frames]


def decode_video(path: Path) -> tuple[list[tuple[float, str]], list[str]]:
    """Each decoded picture (time, digest), and every error libav raised or logged."""
    errors: list[str] = []
    pictures: list[tuple[float, str]] = []
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as logs:
            try:
                with av.open(str(path)) as container:
                    pictures = picture_digests(container.decode(video=0))
            except av.error.FFmpegError as exc:
                errors.append(f"raised: {exc}")
        errors += [f"{name}: {message}" for level, name, message in logs
                   if level <= av.logging.ERROR]
    finally:
        av.logging.set_level(None)
    return pictures, errors


def compare_pictures(
    pictures: list[tuple[float, str]], media: EncodedMedia
) -> tuple[int, list[float]]:
    """Which published frame the file starts on, and the times of the recorded pictures that
    differ from the published picture of their instant.

    H.264 decodes bit-exactly: a frame written without its references (a frame lost before
    it and not recovered) decodes to other pixels, even where the decoder reports nothing.
    """
    decoder = av.CodecContext.create(media.video_codec or "h264", "r")
    sent = [digest for packet in media.video
            for _, digest in picture_digests(decoder.decode(av.Packet(bytes(packet))))]
    first = sent.index(pictures[0][1])  # the file's first picture is one published
    return first, [t for t, digest in pictures if sent[first + round(t * media.fps)] != digest]


def audio_gap_ends(path: str | Path) -> list[float]:
    """Times where audio resumes after lost packets. An MP4 stores a sample's duration as the
    step to the next one, so each Opus packet's own length is read from its TOC byte."""
    with av.open(str(path)) as container:
        spans = [(float(p.pts * p.time_base), float(p.pts * p.time_base)
                  + opus_samples(bytes(p)) / AUDIO_RATE)
                 for p in container.demux(audio=0) if p.size and p.pts is not None]
    return [b[0] for a, b in pairwise(spans) if b[0] - a[1] > 0.001]


def sync_offsets(path: Path) -> tuple[list[float], list[float]]:
    """Flash onsets, and beep minus flash for each flash whose beep onset was received.

    A beep whose first packet was lost (not repaired: WebRTC does not retransmit audio)
    starts late in the file by a packet (or more): that is loss, not A/V sync, so a beep
    right after lost audio (its onset, or the packet before it) is not measured.
    """
    flashes = flash_times(path)
    samples, rate, start = decode_audio(path)
    beeps, resumed = beep_onsets(samples, rate, start), audio_gap_ends(path)
    offsets = []
    for flash in flashes:
        beep = min(beeps, key=lambda b: abs(b - flash), default=None)
        if beep is None or abs(beep - flash) > 0.5:
            continue
        if not any(beep - 0.025 <= g <= beep + 0.005 for g in resumed):
            offsets.append(beep - flash)
    return flashes, offsets
