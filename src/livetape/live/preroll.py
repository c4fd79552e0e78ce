"""The pre-roll of one live stream: its samples from the latest video key frame on.

A recording can only begin on a key frame. Publishers that ignore key frame requests (PLI)
— FFmpeg, OBS with a fixed key frame interval, hardware encoders — send one every GOP, so a
recording that waited for the next one would miss up to a GOP of what was asked for. The
publication keeps its current GOP here, and a starting recorder is handed it first: the file
begins at the latest key frame at or before the request.

Bounded: a key frame drops everything before it; a GOP longer than ``seconds`` (or than
``max_bytes``) loses its key frame, and with it the stream's video, until the next key frame
(a recording then waits for one, as without pre-roll). A stream without video keeps the
last ``AUDIO_ONLY_PREROLL`` seconds of audio (audio can start anywhere: that covers the request's
own latency).
"""

from __future__ import annotations

import sys
from collections import deque

from livetape.recorder.controller import AUDIO_ONLY_PREROLL
from livetape.recorder.media_source import Sample


class Preroll:
    """Samples in arrival order, from the newest video key frame on; ``seconds <= 0``: off."""

    def __init__(self, seconds: float, max_bytes: int) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._samples: deque[Sample] = deque()
        self._has_keyframe = False  # the buffer starts on a video key frame
        self._video = False  # the stream has sent video (else audio only)
        self.nbytes = 0  # payload bytes held
        self.peak_bytes = 0

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def add(self, sample: Sample) -> None:
        if not self.enabled:
            return
        if sample.kind == "video":
            self._video = True
            if sample.keyframe:
                self.clear()
                self._has_keyframe = True
            elif not self._has_keyframe:
                return  # no key frame to decode it from: useless to a recording
        self._samples.append(sample)
        self.nbytes += len(sample.data)
        self._trim()
        self.peak_bytes = max(self.peak_bytes, self.nbytes)

    def _trim(self) -> None:
        span = self.seconds if self._video else min(self.seconds, AUDIO_ONLY_PREROLL)
        newest = self._samples[-1].arrival
        samples = self._samples
        while samples and (self.nbytes > self.max_bytes or newest - samples[0].arrival > span):
            dropped = samples.popleft()
            self.nbytes -= len(dropped.data)
            if dropped.kind == "video" and dropped.keyframe:
                # the frames after it cannot be decoded without it: drop the video, keep audio
                self._has_keyframe = False
                kept = [s for s in samples if s.kind != "video"]
                samples.clear()
                samples.extend(kept)
                self.nbytes = sum(len(s.data) for s in kept)

    def samples(self) -> list[Sample]:
        """What a recording starting now is fed first, oldest first."""
        return list(self._samples)

    def footprint(self) -> int:
        """Bytes of memory held (payloads, their objects and the samples), for measurements."""
        return sum(sys.getsizeof(s) + sys.getsizeof(s.data) for s in self._samples) + sys.getsizeof(
            self._samples
        )

    @property
    def held_seconds(self) -> float:
        """Arrival span of what is held."""
        return self._samples[-1].arrival - self._samples[0].arrival if self._samples else 0.0

    def clear(self) -> None:
        self._samples.clear()
        self._has_keyframe = False
        self.nbytes = 0
