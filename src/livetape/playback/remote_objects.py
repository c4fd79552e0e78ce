"""Objects of a store with no local files (S3): what a request that passed every check of
:meth:`PlaybackService.open` gets.

livetape keeps deciding (signature, rlimit, trial, suspension, the app's scope); the bytes
come from the store itself whenever nothing needs cutting: a **302 to a presigned URL** of
short life (``LIVETAPE_S3_PRESIGN_SECONDS``). What must be cut goes through livetape:

- a trial MP4 is streamed from storage (ranged GETs) up to the trial's last byte, which is
  found by reading the MP4's index through ranged reads (:class:`ObjectReader`), never the
  whole file; a presigned URL could not stop a client asking for more;
- playlists are read (a few KB) and rewritten with signed URIs, as on local storage;
- a trial's HLS segment is checked against its playlist, then redirected (a segment that
  starts before the trial's end is served whole, as locally);
- HEAD is answered from the object's metadata (a presigned GET URL does not sign HEAD).

Object metadata is remembered for ``ttl`` seconds (``LIVETAPE_MEDIA_LOOKUP_SECONDS``).
"""

from __future__ import annotations

import asyncio
import io
import posixpath
from functools import partial

from cachetools import TTLCache

from livetape.errors import Catalogue, LivetapeError
from livetape.playback.playable import Playable
from livetape.playback.playlists import TrialIndex, rewrite_playlist, segment_start_in
from livetape.playback.signing import Grant
from livetape.storage import ObjectInfo, Storage
from livetape.storage.object_reader import ObjectReader

MAX_CACHED = 4096
MAX_PLAYLIST_BYTES = 4 * 1024 * 1024  # a media playlist of a 10-hour file is ~200 KB


class RemoteObjects:
    def __init__(self, storage: Storage, trials: TrialIndex, *, presign_seconds: int,
                 ttl: float) -> None:
        self._storage = storage
        self._trials = trials
        self._presign_seconds = presign_seconds
        self._infos: TTLCache[str, ObjectInfo] | None = (
            TTLCache(maxsize=MAX_CACHED, ttl=ttl) if ttl > 0 else None)

    async def stat(self, key: str) -> ObjectInfo | None:
        """The object's metadata (remembered a little while), None when it is not there."""
        if self._infos is not None and key in self._infos:
            return self._infos[key]
        info = await self._storage.stat(key)
        if info is not None and self._infos is not None:
            self._infos[key] = info
        return info

    def forget(self, prefix: str) -> None:
        """Drop what is remembered of the objects under ``prefix`` (a deleted file)."""
        if self._infos is not None:
            for key in [k for k in self._infos if k.startswith(prefix)]:
                self._infos.pop(key, None)

    async def playable(self, key: str, info: ObjectInfo, media_type: str, *,
                       grant: Grant | None, signing_key: str, url_path: str,
                       head: bool) -> Playable:
        """How the object is served (see the module's docstring)."""
        suffix = posixpath.splitext(key)[1].lower()
        body = partial(self._storage.stream, key)
        streamed = Playable(None, None, media_type, info=info, body=body,
                            trial=grant.trial_seconds if grant else 0)
        if grant is None:
            return streamed if head else await self._redirect(key, info, media_type)
        trial = grant.trial_seconds
        if suffix == ".m3u8":
            if info.size > MAX_PLAYLIST_BYTES:
                raise LivetapeError(Catalogue.NOT_FOUND, f"no playlist {key!r}")
            text = (await self._storage.read_bytes(key)).decode()
            signed = rewrite_playlist(text, url_path, signing_key, grant)
            return Playable(None, None, media_type, playlist=signed.encode(), trial=trial,
                            info=info)
        if trial and suffix == ".ts":
            folder, name = posixpath.split(key)
            try:
                text = (await self._storage.read_bytes(f"{folder}/index.m3u8")).decode()
            except FileNotFoundError:
                text = ""
            start = segment_start_in(text, name)
            if start is None or start >= trial:
                raise LivetapeError(Catalogue.PLAY_FORBIDDEN,
                                    f"past the {trial} s trial: this segment starts later")
        if trial and suffix == ".mp4":
            reader = io.BufferedReader(ObjectReader(self._storage, key, info.size,
                                                    asyncio.get_running_loop()))
            limit = await asyncio.to_thread(self._trials.trial_bytes_of, reader,
                                            (f"{key} {info.etag}", info.size), info.size,
                                            trial)
            return Playable(None, None, media_type, last_byte=limit - 1, trial=trial,
                            info=info, body=body)
        return streamed if head else await self._redirect(key, info, media_type, trial)

    async def _redirect(self, key: str, info: ObjectInfo, media_type: str,
                        trial: int = 0) -> Playable:
        url = await self._storage.presign(key, self._presign_seconds, media_type)
        if url is None:  # a store with local files (an object that appeared just now)
            return Playable(None, None, media_type, info=info, trial=trial,
                            body=partial(self._storage.stream, key))
        return Playable(None, None, media_type, redirect=url, trial=trial, info=info)
