"""Transcoding one source into the MP4 and HLS renditions of the ladder, in one pass.

``transcode`` decodes the source once and hands every decoded frame to each distinct
encoder: one libx264 encoder per distinct (size, bitrate) and one AAC encoder per audio
bitrate (``encoders.py``). An encoder's packets are muxed into every rendition that uses
it, so definitions 10 and 210 (same rung, MP4 and HLS) cost a single encode, as do 20 and
30 when the source is 720p (same size, but different bitrates: two encodes).

Layout under ``work_dir``::

    f10.mp4 f20.mp4 f30.mp4                  faststart MP4 (moov before mdat)
    hls/210/index.m3u8 hls/210/seg_00000.ts  VOD playlist + MPEG-TS segments per variant
    hls/master.m3u8                          written last, from the measured variants

Failure: any error propagates (ValueError for a bad source or arguments; PyAV's
``FFmpegError`` as is) after every open file is closed. Files are written under their
final names, so the caller must discard ``work_dir`` when ``transcode`` raises (the VOD
worker does); nothing in it is finished until ``transcode`` returns.

Decodes in the calling thread, with one more thread per video encoder (see
``encoders.py``), and keeps no state between calls: a worker may run it in a thread.
libx264, libswscale and the decoder release the GIL while they work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.video.frame import VideoFrame

from livetape.processing.decode import Progress, Source, describe, frames, open_source
from livetape.processing.encoders import (
    AudioEncoder,
    EncoderThread,
    KeyframeClock,
    VideoEncoder,
    VideoSettings,
)
from livetape.processing.hls import (
    AAC_LC_CODEC,
    MASTER_NAME,
    PLAYLIST_NAME,
    Variant,
    avc1_codec,
    average_bitrate,
    muxer_options,
    peak_bitrate,
    write_master,
)
from livetape.processing.ladder import Target, plan
from livetape.processing.outputs import MeasuredHls, Output, measure_hls, measure_mp4

logger = logging.getLogger(__name__)

__all__ = ["Output", "TranscodeResult", "transcode"]


@dataclass
class TranscodeResult:
    """The renditions written (in the order asked) and the HLS master playlist, if any."""

    outputs: list[Output]
    master: Path | None  # "hls/master.m3u8", relative to the work dir


@dataclass
class _Rendition:
    target: Target
    path: Path  # relative to the work dir
    container: OutputContainer | None = None
    video: VideoEncoder | None = None
    audio: AudioEncoder | None = None


@dataclass
class _Job:
    """The encoders and output files of one call; ``close`` releases them all."""

    source: Source
    work_dir: Path
    settings: VideoSettings
    host: OutputContainer  # a "null" muxer holding the encoders (see encoders.py)
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while muxing
    renditions: list[_Rendition] = field(default_factory=list)
    video: dict[tuple[int, int, int], VideoEncoder] = field(default_factory=dict)
    audio: dict[int, AudioEncoder] = field(default_factory=dict)

    def open(self, targets: list[Target], segment_seconds: float) -> None:
        """Create the encoders (on the host), start them, then open every rendition."""
        for target in targets:
            profile = target.profile
            rendition = _Rendition(target, _relative_path(profile.definition, profile.container))
            if self.source.has_video:
                rendition.video = self._video_encoder(target)
            if self.source.has_audio:
                rendition.audio = self._audio_encoder(profile.audio_bitrate)
            self.renditions.append(rendition)
        self.host.start_encoding()  # opens the encoders: their parameters become templates
        for rendition in self.renditions:
            path = self.work_dir / rendition.path
            path.parent.mkdir(parents=True, exist_ok=True)
            if rendition.target.profile.container == "mp4":
                rendition.container = av.open(str(path), "w", format="mp4",
                                              options={"movflags": "+faststart"})
            else:
                rendition.container = av.open(str(path), "w", format="hls",
                                              options=muxer_options(path.parent, segment_seconds))
            for encoder in (rendition.video, rendition.audio):
                if encoder is not None:
                    encoder.attach(rendition.container)

    def _video_encoder(self, target: Target) -> VideoEncoder:
        encoder = self.video.get(target.video_key)
        if encoder is None:
            encoder = self.video[target.video_key] = VideoEncoder(
                self.host, target.width, target.height, target.profile.video_bitrate,
                self.settings, self.lock)
        return encoder

    def _audio_encoder(self, bitrate: int) -> AudioEncoder:
        encoder = self.audio.get(bitrate)
        if encoder is None:
            encoder = self.audio[bitrate] = AudioEncoder(self.host, bitrate,
                                                         self.source.audio_channels, self.lock)
        return encoder

    def run(self, container: InputContainer, clock: KeyframeClock, progress: Progress) -> None:
        """Decode the source once, feeding every encoder (video ones in their own threads,
        audio here: it is cheap); then flush them all."""
        audio = list(self.audio.values())
        video = [EncoderThread(v) for v in self.video.values()]
        try:
            for frame in frames(container, video=bool(video), audio=bool(audio),
                                threads=self.settings.threads, progress=progress):
                if isinstance(frame, VideoFrame):
                    clock.mark(frame)
                    for v in video:
                        v.put(frame)
                else:
                    for a in audio:
                        a.feed(frame)
            for v in video:
                v.finish()
        except BaseException:
            for v in video:
                v.abort()
            raise
        for a in audio:
            a.feed(None)

    def close(self, *, failing: bool) -> None:
        """Close every output (writing trailers), then the host. While failing, errors
        from closing are logged, not raised over the original one."""
        for container in [r.container for r in self.renditions if r.container] + [self.host]:
            try:
                container.close()
            except (av.FFmpegError, OSError):
                if not failing:
                    raise
                logger.warning("closing %s after a failure", container.name, exc_info=True)

    def master_variants(self, measured: list[tuple[_Rendition, MeasuredHls]]) -> list[Variant]:
        """The master playlist's entries for the measured HLS renditions."""
        variants = []
        for rendition, hls in measured:
            output, segments = hls.output, hls.segment_bits
            codecs = []
            if rendition.video is not None:
                codecs.append(avc1_codec(rendition.video.codec.extradata or b""))
            if rendition.audio is not None:
                codecs.append(AAC_LC_CODEC)
            uri = output.path.relative_to("hls").as_posix()
            variants.append(Variant(uri, peak_bitrate(segments), average_bitrate(segments),
                                    output.width, output.height, tuple(codecs)))
        return variants


def _relative_path(definition: int, container: str) -> Path:
    return Path(f"f{definition}.mp4") if container == "mp4" else Path(
        "hls", str(definition), PLAYLIST_NAME)


def transcode(source: Path, work_dir: Path, definitions: Sequence[int], *,
              preset: str = "veryfast", hls_segment_seconds: float = 4.0, threads: int = 0,
              progress: Callable[[float], None] | None = None) -> TranscodeResult:
    """Write the renditions ``definitions`` of ``source`` under ``work_dir``.

    ``preset`` is x264's; ``threads`` applies to decoding, scaling and each encoder (0:
    automatic). ``progress`` gets the decoded fraction of the source (0..1, at most ~100
    calls, the last one 1.0). Raises ValueError for an unknown definition, an empty list,
    a bad segment length or a source that is not media; see the module docstring for
    what is left in ``work_dir`` then.
    """
    if not definitions:
        raise ValueError("no definitions to transcode")
    if not hls_segment_seconds > 0:
        raise ValueError(f"hls_segment_seconds must be > 0, not {hls_segment_seconds!r}")
    started = time.monotonic()
    work_dir.mkdir(parents=True, exist_ok=True)
    with open_source(source) as container:
        src = describe(container, source)
        targets = plan(definitions, src.width, src.height)
        fps = src.fps or Fraction(30)
        settings = VideoSettings(fps=fps, time_base=src.video_time_base or 1 / fps,
                                 preset=preset, threads=threads,
                                 keyint=max(1, round(fps * Fraction(hls_segment_seconds))))
        logger.info("transcoding %s (%dx%d, %.3f s, %s fps, %d audio channels) to %s", source,
                    src.width, src.height, src.duration, src.fps, src.audio_channels,
                    ", ".join(f"{t.profile.definition}={t.width}x{t.height}" for t in targets))
        job = _Job(src, work_dir, settings, av.open("", "w", format="null"))
        tracker = Progress(progress, src.duration)
        failing = True
        try:
            job.open(targets, hls_segment_seconds)
            job.run(container, KeyframeClock(hls_segment_seconds), tracker)
            failing = False
        finally:
            job.close(failing=failing)
    outputs: list[Output] = []
    hls: list[tuple[_Rendition, MeasuredHls]] = []
    for rendition in job.renditions:
        definition = rendition.target.profile.definition
        if rendition.target.profile.container == "mp4":
            outputs.append(measure_mp4(work_dir, rendition.path, definition))
        else:
            measured = measure_hls(work_dir, rendition.path, definition)
            outputs.append(measured.output)
            hls.append((rendition, measured))
    master = None
    if hls:
        master = Path("hls", MASTER_NAME)
        write_master(work_dir / master, job.master_variants(hls))
    tracker.done()
    logger.info("transcoded %s in %.1f s", source, time.monotonic() - started)
    return TranscodeResult(outputs, master)

