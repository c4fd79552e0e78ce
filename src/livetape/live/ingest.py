"""Encoded frames out of aiortc, without decoding and without aiortc's decoder thread.

aiortc has no public encoded-frame API. Its receiver reassembles each frame (H.264 Annex-B
access unit, VP8 frame, Opus packet) with its depacketizer and jitter buffer (NACK, RTX,
REMB, receiver reports and PLI-on-loss all stay aiortc's), then ``put``s ``(codec, frame)``
on a queue read by a decoder thread, which decodes and hands pictures back to the event
loop. livetape wants the encoded frame itself, on the event loop: :func:`attach` replaces a
receiver's decoder queue with :class:`DirectDelivery`, which calls back at once with the
frame, and :func:`install` makes aiortc's decoder thread exit at once for such receivers.
Measured: the thread hand-off was 14 % of the recorder's CPU (bench/record_capacity.py).

This rests on two private names of aiortc (``rtcrtpreceiver.decoder_worker`` and the
receiver's ``__decoder_queue``), which is why pyproject pins aiortc's version and
``tests/live/test_ingest.py`` checks the hooks still take. Receivers without
:func:`attach` keep aiortc's normal decoding path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import aiortc.rtcrtpreceiver as _receiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver

FrameCallback = Callable[[JitterFrame | None], None]  # None: the track ended

_QUEUE_ATTRIBUTE = "_RTCRtpReceiver__decoder_queue"
_original_worker = _receiver.decoder_worker
_install_lock = threading.Lock()


class DirectDelivery:
    """Stands in for a receiver's decoder queue: each frame goes to a callback, on the loop."""

    def __init__(self, deliver: FrameCallback) -> None:
        self._deliver = deliver

    def put(self, item: tuple[Any, JitterFrame] | None) -> None:
        self._deliver(None if item is None else item[1])


def _worker(loop: Any, input_q: Any, output_q: Any, decode_error: Any) -> None:
    if isinstance(input_q, DirectDelivery):
        return  # frames never reach this thread: it ends at once
    _original_worker(loop, input_q, output_q, decode_error)


def install() -> None:
    r"""Let :func:`attach`\ ed receivers skip aiortc's decoder thread (idempotent)."""
    with _install_lock:
        if not hasattr(_receiver, "decoder_worker"):
            raise RuntimeError(
                "aiortc.rtcrtpreceiver.decoder_worker is gone: this aiortc version is not "
                "supported (pin aiortc==1.16.0)"
            )
        _receiver.decoder_worker = _worker


def installed() -> bool:
    return _receiver.decoder_worker is _worker


def attach(receiver: RTCRtpReceiver, deliver: FrameCallback) -> None:
    """Send ``receiver``'s encoded frames to ``deliver``; call before media starts."""
    install()
    if not hasattr(receiver, _QUEUE_ATTRIBUTE):
        raise RuntimeError("aiortc's RTCRtpReceiver has no decoder queue: unsupported version")
    setattr(receiver, _QUEUE_ATTRIBUTE, DirectDelivery(deliver))
