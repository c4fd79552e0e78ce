"""The only decoding the recorder does: reading a key frame's picture size, and VP8 -> H.264.

H.264 is recorded as received. MP4 cannot hold VP8, so a publisher that only offers VP8
still gets a playable MP4 by decoding its frames and encoding them with libx264 (costly:
see the README's performance section); its key frames stay key frames.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import av
from av.codec.context import CodecContext
from av.video.codeccontext import VideoCodecContext

log = logging.getLogger(__name__)


def h264_picture_size(access_unit: bytes) -> tuple[int, int] | None:
    """Width and height of an H.264 key frame (decodes that one frame)."""
    decoder = CodecContext.create("h264", "r")
    try:
        frames = list(decoder.decode(av.Packet(access_unit)))
        frames += list(decoder.decode(None))
    except av.FFmpegError:
        return None
    for frame in frames:
        assert isinstance(frame, av.VideoFrame)
        return frame.width, frame.height
    return None


class Vp8ToH264:
    """Decodes VP8 frames and re-encodes them as H.264 Annex-B access units, 1 in, <=1 out."""

    def __init__(self, *, preset: str = "veryfast", crf: int = 23) -> None:
        self._decoder = CodecContext.create("vp8", "r")
        self._encoder: VideoCodecContext | None = None
        self._size: tuple[int, int] | None = None
        self._preset = preset
        self._crf = crf
        self._count = 0

    @property
    def size(self) -> tuple[int, int] | None:
        return self._size

    def _open_encoder(self, width: int, height: int) -> VideoCodecContext:
        encoder = CodecContext.create("libx264", "w")
        assert isinstance(encoder, VideoCodecContext)
        encoder.width, encoder.height = width, height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1, 90000)
        # zerolatency: no lookahead or B-frames, so each input frame comes out at once;
        # repeat-headers puts SPS/PPS on every key frame as WebRTC H.264 has them.
        encoder.options = {
            "preset": self._preset,
            "tune": "zerolatency",
            "crf": str(self._crf),
            "x264-params": "repeat-headers=1:keyint=infinite",
        }
        encoder.open()
        self._size = (width, height)
        return encoder

    def convert(self, data: bytes, pts: int, keyframe: bool) -> list[tuple[bytes, bool]]:
        """Encoded H.264 for one VP8 frame (empty while waiting for the first key frame)."""
        try:
            frames = list(self._decoder.decode(av.Packet(data)))
        except av.FFmpegError as exc:
            log.warning("VP8 frame failed to decode: %s", exc)
            return []
        out: list[tuple[bytes, bool]] = []
        for frame in frames:
            assert isinstance(frame, av.VideoFrame)
            if self._encoder is None:
                if not keyframe:
                    continue
                self._encoder = self._open_encoder(frame.width, frame.height)
            elif (frame.width, frame.height) != self._size:
                # the sender changed resolution: scale to the size the file started with
                frame = frame.reformat(width=self._size[0], height=self._size[1])  # type: ignore[index]
            frame = frame.reformat(format="yuv420p")
            frame.pts = pts
            frame.time_base = Fraction(1, 90000)
            picture = av.video.frame.PictureType
            frame.pict_type = picture.I if keyframe else picture.NONE
            for packet in self._encoder.encode(frame):
                out.append((bytes(packet), packet.is_keyframe))
            self._count += 1
        return out
