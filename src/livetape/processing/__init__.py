"""Media processing for the VOD library: transcoding to the MP4/HLS ladder, snapshots and
covers, and watermarking. A pure library: files in, files and measurements out.

Everything here works on local paths with PyAV (FFmpeg in-process: no subprocess, no
database, no network) and keeps no state between calls, so the VOD worker can run any
of it in a thread. Each call reads its source once, streaming, and never holds a whole
file in memory.

Modules: ``ladder`` (definitions and their sizes), ``source`` (reading and progress),
``encoders`` (x264/AAC encoders that feed several files), ``hls`` (playlists),
``outputs`` (measuring what was written), ``transcode``, ``snapshot``, ``overlay`` (YUV
alpha blending) and ``watermark``.
"""

from __future__ import annotations

from livetape.processing.ladder import (
    HLS_DEFINITIONS,
    MP4_DEFINITIONS,
    PROFILES,
    WATERMARK_DEFINITION,
    Profile,
    Target,
    plan,
)
from livetape.processing.outputs import Output
from livetape.processing.snapshot import Image, cover, snapshots
from livetape.processing.transcode import TranscodeResult, transcode
from livetape.processing.watermark import POSITIONS, Watermarked, check_png, watermark

__all__ = [
    "HLS_DEFINITIONS",
    "MP4_DEFINITIONS",
    "POSITIONS",
    "PROFILES",
    "WATERMARK_DEFINITION",
    "Image",
    "Output",
    "Profile",
    "Target",
    "TranscodeResult",
    "Watermarked",
    "check_png",
    "cover",
    "plan",
    "snapshots",
    "transcode",
    "watermark",
]
