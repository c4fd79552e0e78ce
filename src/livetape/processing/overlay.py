"""Alpha-blending a still image (a PNG watermark) onto yuv420p video frames, with numpy.

The image is converted once, by libswscale, from RGBA to ``yuva420p``, in the video's
colour matrix (BT.709 when the frames say so, else BT.601, libswscale's default) and
range (limited), so blending can happen directly on the decoded Y, U and V planes: no
per-frame conversion to RGB and back, and only the corner the mark covers is touched,
which keeps the rest of the picture exactly as decoded (the encoder is then what changes
it, a little). Chroma is blended with the alpha averaged over each 2x2 block; for that
the mark sits at even coordinates and has even dimensions (an odd one gets one
transparent column or row).

Planes are reached through the frame's own buffers: a plane's rows are ``line_size``
bytes apart (FFmpeg pads them, e.g. 1280 -> 1280 but 100 -> 112), so each plane is viewed
as ``(height, line_size)`` and cut to its width. Decoded frames may share their buffers
with the decoder's reference frames, so ``make_writable`` (a copy only when shared) comes
first.

Blending: ``out = (src * (255 - a) + mark * a + 127) // 255`` in integers, with the
mark's ``mark * a + 127`` and ``255 - a`` precomputed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame
from av.video.plane import VideoPlane
from av.video.reformatter import Colorspace, Interpolation

logger = logging.getLogger(__name__)

AVCOL_SPC_BT709 = 1  # AVColorSpace of frames tagged BT.709

_U8 = npt.NDArray[np.uint8]
_U32 = npt.NDArray[np.uint32]


def plane_view(plane: VideoPlane) -> _U8:
    """A writable (height, width) view of a plane, skipping the row padding."""
    rows = np.frombuffer(memoryview(plane), np.uint8)[:plane.height * plane.line_size]
    return rows.reshape(plane.height, plane.line_size)[:, :plane.width]


@dataclass(frozen=True)
class _Layer:
    """One plane of the mark, ready to blend: ``mark * a + 127`` and ``255 - a``."""

    fore: _U32
    keep: _U32

    @classmethod
    def of(cls, values: _U8, alpha: _U8) -> _Layer:
        a = alpha.astype(np.uint32)
        return cls(values.astype(np.uint32) * a + 127, 255 - a)

    def blend(self, region: _U8) -> None:
        region[...] = (region * self.keep + self.fore) // 255


@dataclass(frozen=True)
class Overlay:
    """A mark placed at (x, y) on frames of one size, ``width`` x ``height`` pixels
    visible (``span``: the even-sized region it blends, at most one pixel more)."""

    x: int
    y: int
    width: int
    height: int
    span: tuple[int, int]
    layers: tuple[_Layer, _Layer, _Layer]  # Y, U, V

    @classmethod
    def place(cls, mark: VideoFrame, frame_width: int, frame_height: int, *, corner: str,
              margin: int, max_width: int, colorspace: int = 0) -> Overlay:
        """Scale ``mark`` (any RGB(A) frame) down to at most ``max_width`` wide and put it
        ``margin`` pixels from ``corner`` ("top-left", ..., "bottom-right") of the frame.
        ValueError if it does not fit."""
        w, h = mark.width, mark.height
        if w > max_width:
            w, h = max_width, max(1, round(h * max_width / w))
        if w + 2 * margin > frame_width or h + 2 * margin > frame_height:
            raise ValueError(f"a {w}x{h} watermark with a {margin} px margin does not fit "
                             f"on {frame_width}x{frame_height} video")
        dst = Colorspace.ITU709 if colorspace == AVCOL_SPC_BT709 else Colorspace.DEFAULT
        yuva = mark.reformat(w, h, "rgba", interpolation=Interpolation.BICUBIC).reformat(
            format="yuva420p", dst_colorspace=dst, dst_color_range="MPEG")
        y, u, v, a = (plane_view(p).copy() for p in yuva.planes)
        # Even size: pad with transparent pixels (chroma planes already round up).
        ew, eh = w + w % 2, h + h % 2
        y, a = (np.pad(p, ((0, eh - h), (0, ew - w))) for p in (y, a))
        a_half = a.reshape(eh // 2, 2, ew // 2, 2).astype(np.uint16).mean(axis=(1, 3))
        a_half = np.rint(a_half).astype(np.uint8)
        left = margin if corner.endswith("left") else frame_width - margin - ew
        top = margin if corner.startswith("top") else frame_height - margin - eh
        x0, y0 = max(0, left // 2 * 2), max(0, top // 2 * 2)
        logger.debug("watermark %dx%d at (%d, %d) on %dx%d", w, h, x0, y0, frame_width,
                     frame_height)
        layers = (_Layer.of(y, a), _Layer.of(u[:eh // 2, :ew // 2], a_half),
                  _Layer.of(v[:eh // 2, :ew // 2], a_half))
        return cls(x0, y0, w, h, (ew, eh), layers)

    def apply(self, frame: VideoFrame) -> VideoFrame:
        """Blend the mark into ``frame`` (yuv420p) in place, after making it writable."""
        frame.make_writable()
        for index, layer in enumerate(self.layers):
            shift = 1 if index else 0
            x, y = self.x >> shift, self.y >> shift
            w, h = self.span[0] >> shift, self.span[1] >> shift
            layer.blend(plane_view(frame.planes[index])[y:y + h, x:x + w])
        return frame
