"""What a signed grant lets a player fetch: signed playlists and trial limits.

Playlists are rewritten per request so that every URI they list carries a query signed
for that URI's own path under the same grant (``Dir`` differs per folder). A trial grant
(``exper`` seconds) cuts media playlists after the segment that contains the trial's end,
and MP4 files after the last byte of the packets before it (moov first: faststart).
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import IO

import av
from cachetools import LRUCache

from livetape.playback.signing import Grant

MAX_CACHED = 1024


def rewrite_playlist(text: str, playlist_path: str, key: str, grant: Grant) -> str:
    """``text`` with each URI signed; trial grants end media playlists at the trial."""
    folder = posixpath.dirname(playlist_path)
    trial = grant.trial_seconds
    out: list[str] = []
    elapsed, cut, duration = 0.0, False, 0.0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#EXTINF:"):
            duration = float(stripped[len("#EXTINF:"):].split(",")[0])
            if trial and elapsed >= trial:
                cut = True
                break
        if stripped == "#EXT-X-ENDLIST":
            continue  # written once at the end
        if stripped and not stripped.startswith("#"):
            path = posixpath.normpath(posixpath.join(folder, stripped))
            line = f"{stripped}?{grant.query(key, path)}"
            elapsed += duration
            duration = 0.0
        out.append(line)
    if cut or "#EXT-X-ENDLIST" in text:
        out.append("#EXT-X-ENDLIST")
    return "\n".join(out) + "\n"


def segment_start(playlist: Path, name: str) -> float | None:
    """Where segment ``name`` starts in a media playlist file (seconds), None if not listed."""
    if not playlist.is_file():
        return None
    return segment_start_in(playlist.read_text(), name)


def segment_start_in(text: str, name: str) -> float | None:
    """Where segment ``name`` starts in a media playlist's text, None if not listed."""
    elapsed, duration = 0.0, 0.0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:"):].split(",")[0])
        elif line and not line.startswith("#"):
            if line == name:
                return elapsed
            elapsed += duration
    return None


class TrialIndex:
    """Byte lengths of MP4 trial prefixes, computed once per (file, version, seconds); the
    ``max_entries`` most recently used are kept."""

    def __init__(self, max_entries: int = MAX_CACHED) -> None:
        self._cache: LRUCache[tuple[str, int, int], int] = LRUCache(maxsize=max_entries)

    def trial_bytes(self, path: Path, seconds: int) -> int:
        """Bytes from the file's start through the last packet that starts before ``seconds``."""
        stat = path.stat()
        return self.trial_bytes_of(str(path), (str(path), stat.st_mtime_ns), stat.st_size,
                                   seconds)

    def trial_bytes_of(self, source: str | IO[bytes], version: tuple[str, int], size: int,
                       seconds: int) -> int:
        """:meth:`trial_bytes` of an MP4 opened from ``source`` (a path or a file object,
        e.g. an object in S3), ``size`` bytes long, cached under ``version`` (its key and
        a number that changes when the object does)."""
        key = (*version, seconds)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        end = 0
        with av.open(source, mode="r") as container:
            streams = list(container.streams)
            done: set[int] = set()
            for packet in container.demux(streams):
                if packet.pts is None or packet.time_base is None or packet.pos is None:
                    continue
                if float(packet.pts * packet.time_base) >= seconds:
                    done.add(packet.stream.index)
                    if len(done) == len(streams):
                        break
                    continue
                end = max(end, packet.pos + packet.size)
        limit = end or size
        self._cache[key] = limit
        return limit
