"""Turns a segment's fragmented MP4 into a standard MP4 (moov first).

Used when a segment closes normally and, at start-up, on the parts a crash left behind:
a part cut off mid-fragment is remuxed up to its last complete packet.
"""

from __future__ import annotations

import logging
from pathlib import Path

import av

log = logging.getLogger(__name__)


class UnreadablePart(Exception):
    """A part with data that FFmpeg cannot open: kept on disk, never treated as empty."""


def remux(part: Path, final: Path) -> bool:
    """Copy every complete packet of ``part`` into a faststart MP4 at ``final``.

    Returns False (and writes nothing) when the part holds no media at all; raises
    :class:`UnreadablePart` when it holds data that cannot be read.
    """
    if not part.exists() or part.stat().st_size == 0:
        return False
    try:
        source = av.open(str(part))
    except (av.FFmpegError, OSError) as exc:
        raise UnreadablePart(f"{part} cannot be opened: {exc}") from exc
    tmp = final.with_suffix(".tmp.mp4")
    written = 0
    try:
        with source:
            streams = [s for s in source.streams if s.type in ("video", "audio")]
            if not streams:
                return False
            with av.open(str(tmp), "w", format="mp4", options={"movflags": "faststart"}) as out:
                mapping = {s.index: out.add_stream_from_template(s) for s in streams}
                try:
                    for packet in source.demux(streams):
                        if packet.dts is None or packet.size == 0:
                            continue  # flush packets carry no data
                        packet.stream = mapping[packet.stream.index]
                        out.mux(packet)
                        written += 1
                except av.FFmpegError as exc:  # truncated by a crash: keep what came before
                    log.warning("%s ends early (%s): kept %d packets", part, exc, written)
        if written == 0:
            tmp.unlink(missing_ok=True)
            return False
        tmp.replace(final)
        return True
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
