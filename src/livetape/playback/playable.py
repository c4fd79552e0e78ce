"""What a request for a library object may have (:class:`Playable`), whatever the store:
the local file, a playlist signed for the grant, a redirect to a presigned URL, or an
object to stream from storage, plus a trial's byte limit. The HTTP layer turns it into a
response (ranges, 304, 302)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from livetape.errors import Catalogue, LivetapeError
from livetape.storage import ObjectInfo

MEDIA_TYPES = {
    ".mp4": "video/mp4", ".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t",
    ".jpg": "image/jpeg", ".png": "image/png",
}
OTHER_TYPE = "application/octet-stream"
Ranges = list[tuple[int, int]]  # inclusive (first, last) byte positions
# bytes first..last (inclusive) of the object, chunk at a time
ByteSource = Callable[[int, int, int], AsyncIterator[bytes]]


@dataclass(frozen=True)
class Playable:
    """What a request for a library object may have: ``path`` and ``stat`` for a local
    file; else (a store without local files: S3) ``redirect`` (a presigned URL), or
    ``info`` and ``body`` to stream it through livetape (trials, HEAD)."""

    path: Path | None
    stat: os.stat_result | None
    media_type: str
    playlist: bytes | None = None  # a playlist signed for the grant: served instead of path
    last_byte: int | None = None  # a trial MP4: the last byte that may be served
    trial: int = 0  # the grant's trial seconds (0: none)
    redirect: str | None = None  # a presigned URL of the object (302)
    info: ObjectInfo | None = None  # the stored object's size and validators (no path)
    body: ByteSource | None = None  # its bytes from storage (no path)
    elsewhere: str | None = None  # the URL on the node that holds it now (307)

    def clip(self, ranges: Ranges | None) -> Ranges | None:
        """The byte ranges to serve of those asked for (None: the whole object). A trial
        serves one range ending at its last byte (the whole trial when several or none were
        asked); a range starting after it is refused (403)."""
        if self.last_byte is None:
            return ranges
        first, last = ranges[0] if ranges and len(ranges) == 1 else (0, self.last_byte)
        if first > self.last_byte:
            raise LivetapeError(Catalogue.PLAY_FORBIDDEN, f"past the {self.trial} s trial "
                                f"(bytes from {self.last_byte + 1} on)")
        return [(first, min(last, self.last_byte))]
