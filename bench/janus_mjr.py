"""Counting what Janus recorded: ``.mjr`` parsing and a cross-check through ``janus-pp-rec``.

The ``.mjr`` format relied on (Janus >= 0.10, ``src/record.c``, "MJR00002")::

    "MJR00002"                                   8-byte magic
    u16 BE length, JSON info header              {"t": "v"|"a"|"d", "c": codec, "s": created_us,
                                                  "u": first_frame_us, ...}
    then per packet, until EOF:
    "MEET", u32 BE ms since the first packet, u16 BE length, <length> bytes of the RTP packet
    (data channels: an extra u64 BE real-time stamp counted in <length> precedes the payload)

The RTP packets are stored decrypted, with SSRC / sequence number / timestamp rewritten by
Janus's switching context (consistent offsets, so distinct timestamps still mark frames).
Only demuxing here, never decoding.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MJR_MAGIC = b"MJR00002"
MJR_FRAME_MAGIC = b"MEET"
H264_NAL_IDR = 5
H264_NAL_SPS = 7
H264_STAP_A = 24
H264_FU_A = 28
VIDEO_CLOCK_HZ = 90_000
AUDIO_CLOCK_HZ = 48_000


@dataclass
class MjrStats:
    """What one ``.mjr`` file holds."""

    path: Path
    kind: str  # "video", "audio" or "data"
    codec: str
    packets: int = 0
    frames: int = 0  # video: distinct RTP timestamps; audio: packets
    keyframes: int = 0  # video frames with an IDR NAL (H.264 only)
    lost: int = 0  # RTP sequence numbers missing between the first and last packet
    payload_bytes: int = 0  # RTP payload bytes (headers and padding excluded)
    duration_s: float = 0.0  # last - first RTP timestamp
    header: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordingStats:
    """One publisher's recording: its ``.mjr`` files (one per media, more if it republished)."""

    name: str
    files: list[MjrStats] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[MjrStats]:
        """The files of one kind ("video", "audio", "data")."""
        return [f for f in self.files if f.kind == kind]

    @property
    def video(self) -> MjrStats | None:
        """The first video file, if any."""
        return next(iter(self.of_kind("video")), None)

    @property
    def audio(self) -> MjrStats | None:
        """The first audio file, if any."""
        return next(iter(self.of_kind("audio")), None)

    @property
    def video_frames(self) -> int:
        """Video frames (distinct RTP timestamps) recorded, over all video files."""
        return sum(f.frames for f in self.of_kind("video"))

    @property
    def video_packets(self) -> int:
        """Video RTP packets recorded, over all video files."""
        return sum(f.packets for f in self.of_kind("video"))

    @property
    def audio_packets(self) -> int:
        """Audio RTP packets (= Opus frames) recorded, over all audio files."""
        return sum(f.packets for f in self.of_kind("audio"))


def _rtp_payload(packet: bytes) -> bytes:
    """RTP payload without header, CSRCs, header extension and padding (RFC 3550)."""
    if len(packet) < 12:
        return b""
    first = packet[0]
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 2 bytes profile, 2 bytes length in 32-bit words
        if len(packet) < offset + 4:
            return b""
        offset += 4 + 4 * struct.unpack_from("!H", packet, offset + 2)[0]
    end = len(packet)
    if first & 0x20 and end > offset:  # padding: the last byte is the padding length
        end -= packet[-1]
    return packet[offset:end] if end > offset else b""


def _h264_has_idr(payload: bytes) -> bool:
    """Whether an H.264 RTP payload (RFC 6184) carries (the start of) an IDR NAL unit."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == H264_FU_A:
        return len(payload) > 1 and payload[1] & 0x80 != 0 and payload[1] & 0x1F == H264_NAL_IDR
    if nal_type == H264_STAP_A:
        pos = 1
        while pos + 2 < len(payload):
            size = struct.unpack_from("!H", payload, pos)[0]
            if payload[pos + 2] & 0x1F == H264_NAL_IDR:
                return True
            pos += 2 + size
        return False
    return nal_type == H264_NAL_IDR


def iter_mjr(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[tuple[int, bytes]]]:
    """Read a MJR00002 file: (JSON info header, [(ms since first packet, RTP packet), ...]).

    A file cut short (janus killed mid-write) yields the packets complete so far.
    """
    data = Path(path).read_bytes()
    if not data.startswith(MJR_MAGIC):
        raise ValueError(f"{path}: not a {MJR_MAGIC.decode()} file (magic {data[:8]!r})")
    pos = len(MJR_MAGIC)
    if len(data) < pos + 2:  # header is written with the first packet: nothing recorded
        return {}, []
    (info_len,) = struct.unpack_from("!H", data, pos)
    pos += 2
    info: dict[str, Any] = json.loads(data[pos : pos + info_len])
    pos += info_len
    packets: list[tuple[int, bytes]] = []
    while pos + 10 <= len(data):
        if data[pos : pos + 4] != MJR_FRAME_MAGIC:
            raise ValueError(f"{path}: bad frame header at byte {pos}")
        ms, length = struct.unpack_from("!IH", data, pos + 4)
        pos += 10
        if pos + length > len(data):
            break
        packets.append((ms, data[pos : pos + length]))
        pos += length
    return info, packets


def parse_mjr(path: str | os.PathLike[str]) -> MjrStats:
    """Count packets, frames, keyframes and losses in one ``.mjr`` recording."""
    info, packets = iter_mjr(path)
    kind = {"v": "video", "a": "audio", "d": "data"}.get(str(info.get("t")), "unknown")
    codec = str(info.get("c", ""))
    stats = MjrStats(path=Path(path), kind=kind, codec=codec, header=info)
    if kind == "data":
        stats.packets = stats.frames = len(packets)
        return stats
    timestamps: set[int] = set()
    key_timestamps: set[int] = set()
    seqs: list[int] = []
    is_h264 = codec.lower() == "h264"
    for _, pkt in packets:
        if len(pkt) < 12:
            continue
        seq, ts = struct.unpack_from("!HI", pkt, 2)
        payload = _rtp_payload(pkt)
        stats.packets += 1
        stats.payload_bytes += len(payload)
        seqs.append(seq)
        timestamps.add(ts)
        if is_h264 and _h264_has_idr(payload):
            key_timestamps.add(ts)
    stats.frames = len(timestamps) if kind == "video" else stats.packets
    stats.keyframes = len(key_timestamps)
    if seqs:
        # Unwrap 16-bit sequence numbers in arrival order, then count the holes.
        unwrapped, base, prev = [], 0, seqs[0]
        for seq in seqs:
            if seq < prev and prev - seq > 0x8000:
                base += 0x10000
            elif seq > prev and seq - prev > 0x8000:
                base -= 0x10000
            unwrapped.append(base + seq)
            prev = seq
        stats.lost = max(0, max(unwrapped) - min(unwrapped) + 1 - len(set(unwrapped)))
    if timestamps:
        clock = VIDEO_CLOCK_HZ if kind == "video" else AUDIO_CLOCK_HZ
        # Sorted span is fine for runs far shorter than the 32-bit wrap (13 h at 90 kHz).
        stats.duration_s = (max(timestamps) - min(timestamps)) / clock
    return stats


# VideoRoom 1.x names files videoroom-<room>-user-<id>-<open time us>-<audio|video|data>-<mindex>
# .mjr; each medium has its own open time, so group by what precedes it.
_MJR_NAME = re.compile(r"^(?P<base>.+?)(?:-\d+)?-(?P<kind>audio|video|data)(?:-\d+)?\.mjr$")


def recorded_frames(record_dir: str | os.PathLike[str]) -> dict[str, RecordingStats]:
    """Per recording (publisher), the video frames/packets and audio packets Janus wrote.

    Keys are ``videoroom-<room>-user-<publisher id>``. Call it after the publishers left (or
    janus stopped): Janus writes through stdio buffers and only flushes the tail when it closes
    a recording.
    """
    result: dict[str, RecordingStats] = {}
    for path in sorted(Path(record_dir).glob("*.mjr")):
        match = _MJR_NAME.match(path.name)
        base = match.group("base") if match else path.stem
        result.setdefault(base, RecordingStats(name=base)).files.append(parse_mjr(path))
    return result


# --------------------------------------------------------------------------------------------
# Optional cross-check through Janus's own post-processor (not part of any measured CPU)
# --------------------------------------------------------------------------------------------


def pp_rec_binary() -> str | None:
    """Path of ``janus-pp-rec`` (Debian package ``janus-tools``), or None."""
    return shutil.which("janus-pp-rec")


def postprocess(
    record_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> dict[Path, Path]:
    """Convert every ``.mjr`` with ``janus-pp-rec`` (H.264 -> .mp4, Opus -> .opus).

    Returns {mjr path: output path} for the conversions that produced a file.
    """
    binary = pp_rec_binary()
    if binary is None:
        raise FileNotFoundError("janus-pp-rec not found: apt-get install -y janus-tools")
    out = Path(out_dir) if out_dir else Path(record_dir)
    out.mkdir(parents=True, exist_ok=True)
    converted: dict[Path, Path] = {}
    for mjr in sorted(Path(record_dir).glob("*.mjr")):
        info, _ = iter_mjr(mjr)
        ext = {"h264": "mp4", "opus": "opus", "vp8": "webm", "vp9": "webm"}.get(
            str(info.get("c", "")).lower()
        )
        if ext is None:
            continue
        target = out / f"{mjr.stem}.{ext}"
        subprocess.run(
            [binary, "--debug-level", "2", str(mjr), str(target)],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if target.exists() and target.stat().st_size > 0:
            converted[mjr] = target
    return converted


def count_container_packets(path: str | os.PathLike[str]) -> int:
    """Packets (= frames for video, Opus frames for audio) in a media file, via PyAV demux."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for pkt in container.demux(container.streams[0]) if pkt.size > 0)
