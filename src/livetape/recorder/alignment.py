"""Where audio goes relative to video: one timeline per file from the sender's clock.

A file's time zero is a video key frame. The audio timestamp of that same instant comes
from the tracks' RTCP sender reports (both tracks then share the sender's wall clock);
before reports exist, arrival times are the fallback, off by the difference between the
tracks' jitter-buffer delays (about 45 ms with aiortc), which is why a recording waits up to
``sync_wait`` for reports before it starts. A key frame that arrived before the first report
(a pre-roll's, or one held while waiting) is placed once a report is in: the mapping from
track timestamps to sender time is linear, so it applies to earlier frames too.
"""

from __future__ import annotations

import logging
import time

from livetape.recorder.media_source import MediaSource, Sample

log = logging.getLogger(__name__)

AUDIO_RATE = 48000


class AvAlignment:
    """Answers: may a file start at this key frame, and what is its audio zero?"""

    def __init__(self, source: MediaSource, *, has_audio: bool, sync_wait: float) -> None:
        self._source = source
        self._has_audio = has_audio
        self._sync_wait = sync_wait
        self._started = time.monotonic()
        self._last_audio: Sample | None = None

    def note_audio(self, sample: Sample) -> None:
        self._last_audio = sample

    def _sender_time(self, keyframe: Sample) -> float | None:
        if keyframe.sender_time is not None:
            return keyframe.sender_time
        return self._source.sender_time(keyframe.kind, keyframe.ts)

    def by_reports(self, keyframe: Sample) -> bool:
        """Both tracks can be placed on the sender's clock at this key frame."""
        sender_time = self._sender_time(keyframe)
        return sender_time is not None and (
            self._source.mapped_at("audio", sender_time) is not None
        )

    def ready(self, keyframe: Sample) -> bool:
        """Start now: sender reports are in for both tracks, or waiting longer is not worth it."""
        if not self._has_audio or self.by_reports(keyframe):
            return True
        if time.monotonic() - self._started >= self._sync_wait:
            log.warning("no sender reports after %.1f s: aligning A/V by arrival", self._sync_wait)
            return True
        return False

    def audio_zero(self, keyframe: Sample) -> int | None:
        """The audio timestamp at the key frame's instant (None: take it from the next audio)."""
        if not self._has_audio:
            return None
        sender_time = self._sender_time(keyframe)
        if sender_time is not None:
            mapped = self._source.mapped_at("audio", sender_time)
            if mapped is not None:
                return mapped
        last = self._last_audio
        if last is None:
            return None
        return last.ts + round((keyframe.arrival - last.arrival) * AUDIO_RATE)

    @staticmethod
    def audio_zero_from_arrival(audio: Sample, keyframe_arrival: float) -> int:
        """Fallback when no audio had arrived by the key frame: place audio by arrival."""
        return audio.ts - round((audio.arrival - keyframe_arrival) * AUDIO_RATE)
