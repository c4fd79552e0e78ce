"""Encoders that feed one encoded stream into several output files.

``VideoEncoder`` scales decoded frames to one size (libswscale, bicubic like FFmpeg's
``scale`` filter) and encodes them with libx264; ``AudioEncoder`` reframes decoded audio
into the AAC encoder's 1024-sample frames at 48 kHz. Each one *fans out*: every packet it
produces is muxed into each attached output, so the MP4 and the HLS rendition of a rung
(10 and 210) cost one encode.

Why the encoders live on a stream of a ``null`` muxer (the *host*): PyAV creates an output
stream with codec parameters (SPS/PPS or AudioSpecificConfig extradata, sizes, rates) only
from another ``Stream`` (``add_stream_from_template``), and the template's parameters are
filled in when its container writes its header. A host that never receives a packet
gives every real output the same template, whichever files a job writes. Encoders use a
global header (extradata, no in-band SPS/PPS): MP4 wants it that way and the MPEG-TS
muxer puts the SPS/PPS back in front of every IDR itself.

Timing: the video encoder works in the source's time base (1/90000 for recordings), so
variable frame rate input keeps every frame at its own time. Key frames are forced by
time (``KeyframeClock``) rather than left to frame counts: HLS segments then cut every
``segment_seconds`` even when the frame rate varies, and all rungs cut at the same frames.
x264's own ``keyint`` (the same interval in frames at the mean rate) only bounds GOPs
where frames come faster than average; scene-cut key frames are off. FFmpeg's encoders
leave packet durations at 0; the HLS muxer then times a segment by packet timestamps in
decode order, which B-frames throw off (a 1 s segment of a VFR clip read 1.32 s), and MP4
guesses the last sample's duration, so each video packet gets its frame's duration back.
Audio goes through ``aresample`` with ``async`` so a gap in the source (lost packets)
becomes silence instead of pulling the audio early.

Threads (``EncoderThread``): fed one after the other from the decoding thread, an encoder
waiting inside x264 (for a frame thread, for its lookahead) holds up the others while
cores sit idle; one thread per video encoder took 10-20 % less wall time at the same CPU
(1080p30 to three rungs, 2 cores). PyAV releases the GIL in libswscale and the codec
calls, so the threads do run in parallel. What they share is read-only (the decoded
frame: each encoder scales into a new frame, x264 copies its input), except the output
files, muxed into under the job's lock. A bounded queue (``QUEUE_FRAMES``) keeps memory
flat: decoding waits for the slowest encoder. An encoder's failure is raised in the
decoding thread at its next ``put`` or at ``finish``; a failed or aborted thread keeps
draining its queue, so the decoding thread never blocks on it.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.codec.context import Flags
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import Interpolation, VideoReformatter
from av.video.stream import VideoStream

logger = logging.getLogger(__name__)

AUDIO_RATE = 48000
AAC_FRAME = 1024
QUEUE_FRAMES = 4  # frames queued per video encoder thread (1080p: 3 MB each)
# aresample: fill (or trim) when the audio clock is off by more than this many seconds;
# below one 20 ms Opus packet, so a lost packet is filled, jitter is not
AUDIO_HARD_COMP = 0.015


@dataclass(frozen=True)
class VideoSettings:
    """What every x264 encoder of a job shares."""

    fps: Fraction  # the source's mean rate: x264's rate control hint and keyint
    time_base: Fraction  # the source's video time base
    preset: str
    threads: int  # 0: x264 picks (about 1.5 x cores)
    keyint: int  # frames


def x264_stream(host: OutputContainer, width: int, height: int, settings: VideoSettings, *,
                bitrate: int | None = None, crf: int | None = None) -> VideoStream:
    """A libx264 stream on ``host``: average ``bitrate`` (with a VBV cap of 1.5x over a 2x
    buffer, so HLS segments do not spike) or constant quality ``crf``."""
    params = f"keyint={settings.keyint}:scenecut=0"
    options = {"preset": settings.preset, "x264-params": params}
    if bitrate is not None:
        options |= {"maxrate": str(bitrate * 3 // 2), "bufsize": str(bitrate * 2)}
    elif crf is not None:
        options["crf"] = str(crf)
    stream = host.add_stream("libx264", rate=settings.fps, options=options)
    ctx = stream.codec_context
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = settings.time_base
    stream.time_base = settings.time_base
    ctx.thread_count = settings.threads
    ctx.flags |= Flags.global_header
    if bitrate is not None:
        ctx.bit_rate = bitrate
    return stream


def aac_stream(host: OutputContainer, bitrate: int, channels: int) -> AudioStream:
    """A native AAC-LC stream on ``host``: 48 kHz, mono or stereo (more channels: stereo)."""
    stream = host.add_stream("aac", rate=AUDIO_RATE, layout="mono" if channels == 1 else "stereo")
    stream.codec_context.bit_rate = bitrate
    stream.codec_context.time_base = Fraction(1, AUDIO_RATE)
    stream.time_base = Fraction(1, AUDIO_RATE)
    stream.codec_context.flags |= Flags.global_header
    return stream


class KeyframeClock:
    """Marks the frames that must be key frames: the first at or after each multiple of
    ``every`` seconds since the first frame."""

    def __init__(self, every: float) -> None:
        self._every = every
        self._start: float | None = None
        self._next = 0.0

    def mark(self, frame: VideoFrame) -> None:
        """Set ``frame.pict_type``: I here, else NONE (decoded frames carry the source's
        types, which would otherwise force key frames where the source had them)."""
        t = frame.time
        if self._start is None:
            self._start = t
        if t - self._start >= self._next - 1e-6:
            frame.pict_type = PictureType.I
            while t - self._start >= self._next - 1e-6:
                self._next += self._every
        else:
            frame.pict_type = PictureType.NONE


class FrameDurations:
    """Gives encoded video packets their frames' durations (see the module docstring)."""

    def __init__(self, settings: VideoSettings) -> None:
        self._default = max(1, round(1 / (settings.fps * settings.time_base)))
        self._pending: dict[int, int] = {}  # pts -> duration, of the frames in the encoder

    def remember(self, frame: VideoFrame) -> None:
        """Note the duration of a frame about to be encoded (in the encoder's time base)."""
        if frame.pts is not None:
            self._pending[frame.pts] = frame.duration or self._default

    def restore(self, packets: list[Packet[Any]]) -> list[Packet[Any]]:
        """Set each packet's duration to its frame's, unless the encoder set one."""
        for packet in packets:
            duration = self._pending.pop(packet.pts, None) if packet.pts is not None else None
            if not packet.duration:
                packet.duration = duration or self._default
        return packets


class _FanOut:
    """An encoder stream on the host and the output streams copied from it; ``lock`` is
    the job's, held while muxing (encoders run in threads, outputs take one at a time)."""

    def __init__(self, stream: Stream, lock: threading.Lock) -> None:
        self.stream = stream
        self.outputs: list[tuple[OutputContainer, Stream]] = []
        self._lock = lock

    def attach(self, container: OutputContainer) -> Stream:
        """Add a stream like this encoder's to ``container`` (after the host has started)."""
        copy = container.add_stream_from_template(self.stream)
        self.outputs.append((container, copy))
        return copy

    def _mux(self, packets: list[Packet[Any]]) -> None:
        # One Packet goes to every output: mux() muxes a new reference to its data and only
        # rebases the packet's own timestamps to the stream's time base; no byte copy.
        with self._lock:
            for packet in packets:
                for container, stream in self.outputs:
                    packet.stream = stream
                    container.mux(packet)


class VideoEncoder(_FanOut):
    """Scale to ``width`` x ``height`` and encode with libx264 at ``bitrate``."""

    def __init__(self, host: OutputContainer, width: int, height: int, bitrate: int,
                 settings: VideoSettings, lock: threading.Lock) -> None:
        stream = x264_stream(host, width, height, settings, bitrate=bitrate)
        super().__init__(stream, lock)
        self.codec = stream.codec_context
        self.width, self.height = width, height
        self._threads = settings.threads
        self._scaler = VideoReformatter()
        self._durations = FrameDurations(settings)

    def feed(self, frame: VideoFrame | None) -> None:
        """Encode one decoded frame (``None``: flush)."""
        if frame is not None:
            if (frame.width, frame.height, frame.format.name) != (
                    self.width, self.height, "yuv420p"):
                frame = self._scaler.reformat(frame, self.width, self.height, "yuv420p",
                                              interpolation=Interpolation.BICUBIC,
                                              threads=self._threads)
            self._durations.remember(frame)
        self._mux(self._durations.restore(self.codec.encode(frame)))


class AudioEncoder(_FanOut):
    """Resample to 48 kHz planar float in 1024-sample frames and encode AAC at ``bitrate``."""

    def __init__(self, host: OutputContainer, bitrate: int, channels: int,
                 lock: threading.Lock) -> None:
        stream = aac_stream(host, bitrate, channels)
        super().__init__(stream, lock)
        self._codec = stream.codec_context
        self._resampler = av.AudioResampler(
            format="fltp", layout=self._codec.layout, rate=AUDIO_RATE, frame_size=AAC_FRAME,
            options={"async": "1", "min_hard_comp": str(AUDIO_HARD_COMP)})

    def feed(self, frame: AudioFrame | None) -> None:
        """Encode one decoded frame (``None``: flush the resampler, then the encoder)."""
        for chunk in self._resampler.resample(frame):
            self._mux(self._codec.encode(chunk))
        if frame is None:
            self._mux(self._codec.encode(None))


class EncoderThread:
    """Feeds one ``VideoEncoder`` from its own thread: ``put`` frames, then ``finish``
    (or ``abort`` when the job failed elsewhere)."""

    def __init__(self, encoder: VideoEncoder) -> None:
        self._encoder = encoder
        self._queue: queue.Queue[VideoFrame | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._aborted = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"x264-{encoder.width}x{encoder.height}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            frame = self._queue.get()  # None: flush the encoder, then stop
            if self._error is None and not self._aborted.is_set():
                try:
                    self._encoder.feed(frame)
                except BaseException as exc:  # raised again in the decoding thread
                    self._error = exc
            if frame is None:
                return

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, frame: VideoFrame) -> None:
        """Queue a frame (waits while the queue is full); raises the thread's failure."""
        self._raise()
        self._queue.put(frame)

    def finish(self) -> None:
        """Flush the encoder and wait for the thread; raises its failure, if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise()

    def abort(self) -> None:
        """Stop without flushing and wait for the thread."""
        self._aborted.set()
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
