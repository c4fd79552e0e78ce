"""Playback: every decision between a library file and a viewer.

:class:`PlaybackService` is what the library's HTTP routes call. It decides which URLs a file
is shown with (signed under one fresh grant when the app signs play URLs, plain otherwise)
and whether a request for one of its objects may have it, and how much of it:

- the object must exist and its file be playable (else 10008, as if absent);
- for an app that signs, the URL's grant must check (:class:`PlayGuard`: signature, expiry,
  the ``rlimit`` viewer IPs; else 403);
- with billing enforced, playback stops once the balance has been at or below zero past
  the grace period (``LIVETAPE_BILLING_PLAYBACK_GRACE_SECONDS``);
- a trial grant (``exper`` seconds) serves an MP4 only up to the last byte of the packets
  before the trial's end, an HLS segment only when it starts before it, and a media
  playlist only up to the segment that holds it (:mod:`livetape.playback.playlists`).

The answer is a :class:`Playable`: the local file, or a playlist rewritten for the grant,
plus the trial's byte limit; on S3, a presigned URL to redirect to or an object to stream
(:mod:`livetape.playback.remote_objects`). The HTTP layer turns it into a response (ranges,
304, 302).

In a cluster a file that just landed waits a moment in the spool of the node that recorded
it before it is in the object store: another node asked for it answers 307 to that node
(its ``LIVETAPE_PUBLIC_URL``, the same path and query), which serves it from its spool and
makes every check itself.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from livetape.config import Settings
from livetape.db.models import FileStatus, VodFile
from livetape.errors import Catalogue, LivetapeError
from livetape.library.file_changes import FileUpdate
from livetape.library.files import Library, object_key
from livetape.library.search import FileQuery
from livetape.library.views import FileView, file_view
from livetape.playback.file_detail import FileDetail, file_detail
from livetape.playback.lookup import MediaLookup
from livetape.playback.playable import MEDIA_TYPES, OTHER_TYPE, Playable
from livetape.playback.playlists import TrialIndex, rewrite_playlist, segment_start
from livetape.playback.remote_objects import RemoteObjects
from livetape.playback.signing import Grant, PlayGuard, PlayUrls, new_grant
from livetape.storage import InvalidKey, ObjectInfo
from livetape.storage.base import StorageError

__all__ = ["MEDIA_TYPES", "OTHER_TYPE", "NodeUrl", "Playable", "PlaybackService"]

NodeUrl = Callable[[str], Awaitable[str | None]]  # a live node's public URL (None: none)

class PlaybackService:
    """Play URLs for library files, and the checks a request for their objects passes."""

    def __init__(self, settings: Settings, library: Library, lookup: MediaLookup,
                 guard: PlayGuard, trials: TrialIndex, node_url: NodeUrl | None = None) -> None:
        """``node_url``: in a cluster, where another node is reached (see the docstring)."""
        self._settings = settings
        self._node_url = node_url
        self._library = library
        self._lookup = lookup
        self._guard = guard
        self._trials = trials
        self._remote = RemoteObjects(library.storage, trials,
                                     presign_seconds=settings.s3_presign_seconds,
                                     ttl=settings.media_lookup_seconds)

    # --- which URLs a file is shown with ---------------------------------------------------

    def base_url(self, request_base: str) -> str:
        """Where play URLs point: LIVETAPE_PUBLIC_URL, else the URL the request came to."""
        return (self._settings.public_url or request_base).rstrip("/")

    async def play_urls(self, app_id: str, request_base: str, *, exper: int = 0,
                        rlimit: int = 0) -> PlayUrls:
        """The URL maker for an app's files: signed (one fresh grant) when the app signs."""
        base = self.base_url(request_base)
        signing = await self._lookup.signing(app_id)  # the key serve() checks against
        if signing is None or not signing.required:
            return PlayUrls(base, "", None)
        grant = new_grant(self._settings.play_url_ttl_seconds, exper=exper, rlimit=rlimit)
        return PlayUrls(base, signing.key, grant)

    async def views(self, app_id: str, rows: list[VodFile], request_base: str, *,
                    exper: int = 0, rlimit: int = 0) -> list[FileView]:
        """Files as the API shows them, with their (maybe signed) play URLs."""
        extras = await self._library.extras([row.file_id for row in rows])
        urls = await self.play_urls(app_id, request_base, exper=exper, rlimit=rlimit)
        return [file_view(row, extras[row.file_id], urls) for row in rows]

    async def play_info(self, app_id: str, name_prefix: str, page_no: int, page_size: int,
                        request_base: str, *, exper: int = 0,
                        rlimit: int = 0) -> tuple[int, list[FileView]]:
        """DescribeVodPlayInfo: one page of the files named ``name_prefix``..., and the total."""
        query = FileQuery(name_prefix=name_prefix)
        return await self.search(app_id, query, page_no, page_size, request_base,
                                 exper=exper, rlimit=rlimit)

    async def search(self, app_id: str, query: FileQuery, page_no: int, page_size: int,
                     request_base: str, *, exper: int = 0,
                     rlimit: int = 0) -> tuple[int, list[FileView]]:
        """DescribeVodInfo: one page of the files ``query`` finds, and the total."""
        total, rows = await self._library.search(app_id, query, page_no, page_size)
        return total, await self.views(app_id, rows, request_base, exper=exper, rlimit=rlimit)

    async def file(self, app_id: str, file_id: str, request_base: str, *, exper: int = 0,
                   rlimit: int = 0) -> FileDetail:
        """One file in full (its jobs too)."""
        row = await self._library.get(app_id, file_id)
        extras = await self._library.extras([file_id], jobs=True)
        urls = await self.play_urls(app_id, request_base, exper=exper, rlimit=rlimit)
        return file_detail(row, extras[file_id], urls)

    async def own_file(self, app_id: str, file_id: str, user_id: str | None,
                       request_base: str) -> FileView:
        """A file for the user who recorded it (``user_id``; None: the app's server, any
        file). Another user's file answers 10008, as if absent."""
        row = await self._library.get(app_id, file_id)
        if user_id is not None and row.user_id != user_id:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no file {file_id!r}")
        return (await self.views(app_id, [row], request_base))[0]

    async def modify(self, app_id: str, file_id: str, update: FileUpdate,
                     request_base: str) -> FileView:
        """ModifyVodInfo, answering the file as it is now."""
        row = await self._library.modify(app_id, file_id, update)
        return (await self.views(app_id, [row], request_base))[0]

    async def delete(self, app_id: str, file_id: str) -> None:
        """DeleteVodFile: its objects and rows go; its URLs answer 404 at once."""
        await self._library.delete(app_id, file_id)
        self._lookup.forget_file(file_id)
        self._remote.forget(f"{app_id}/{file_id}/")

    # --- what a request for an object may have ------------------------------------------

    async def open(self, app_id: str, file_id: str, name: str, url_path: str,
                   query: dict[str, str], client_ip: str, *, head: bool = False) -> Playable:
        """The object ``name`` of a file for a request of ``url_path?query`` from
        ``client_ip`` (``head``: a HEAD request), after every check (see the module's
        docstring). On a store without local files (S3) the object is redirected to or
        streamed (:mod:`livetape.playback.remote_objects`)."""
        key = object_key(app_id, file_id, name)  # before the database or the disk is asked
        if key is None:
            raise LivetapeError(Catalogue.NOT_FOUND, f"no object {name[:100]!r} for file "
                                f"{file_id[:100]!r}", hint="use a URL from play info")
        status = await self._lookup.file_status(app_id, file_id)
        try:
            local = self._library.storage.local_path(key)
        except InvalidKey:  # a link inside the storage folder that points out of it
            local = None
        playable = status is not None and FileStatus(status).playable
        info: ObjectInfo | None = None
        if playable and local is None:  # a store without local files (or no such object)
            try:
                info = await self._remote.stat(key)
            except InvalidKey:
                info = None
            except StorageError:  # the store is away: another node may hold it in its spool
                if holder := await self._holder_url(file_id, url_path, query):
                    return Playable(None, None, OTHER_TYPE, elsewhere=holder)
                raise
        if not playable or (local is None and info is None):
            if playable and (holder := await self._holder_url(file_id, url_path, query)):
                return Playable(None, None, OTHER_TYPE, elsewhere=holder)
            raise LivetapeError(Catalogue.NOT_FOUND, f"no object {name!r} for file {file_id!r}")
        signing = await self._lookup.signing(app_id)
        grant: Grant | None = None
        if signing is not None and signing.required:
            grant = await self._guard.admit(signing.key, url_path, query, client_ip)
        if self._settings.billing_enforce:
            await self._not_suspended(app_id)
        if local is None:
            assert info is not None
            media_type = MEDIA_TYPES.get(posixpath.splitext(name)[1].lower(), OTHER_TYPE)
            return await self._remote.playable(
                key, info, media_type, grant=grant, signing_key=signing.key if signing else "",
                url_path=url_path, head=head)
        suffix = local.suffix.lower()
        media_type = MEDIA_TYPES.get(suffix, OTHER_TYPE)
        stat = os.stat(local)  # one syscall on a local file: cheaper than a thread hop
        if grant is None:
            return Playable(local, stat, media_type)
        trial = grant.trial_seconds
        if suffix == ".m3u8":
            text = await asyncio.to_thread(local.read_text)
            body = rewrite_playlist(text, url_path, signing.key if signing else "", grant)
            return Playable(local, stat, media_type, playlist=body.encode(), trial=trial)
        if trial and suffix == ".ts":
            start = await asyncio.to_thread(segment_start, local.parent / "index.m3u8",
                                            local.name)
            if start is None or start >= trial:
                raise LivetapeError(Catalogue.PLAY_FORBIDDEN,
                                    f"past the {trial} s trial: this segment starts later")
        if trial and suffix == ".mp4":
            limit = await asyncio.to_thread(self._trials.trial_bytes, local, trial)
            return Playable(local, stat, media_type, last_byte=limit - 1, trial=trial)
        return Playable(local, stat, media_type, trial=trial)

    async def _holder_url(self, file_id: str, url_path: str,
                          query: dict[str, str]) -> str | None:
        """The same URL on the node whose spool holds the file, if another live node does."""
        if self._node_url is None:
            return None
        node_id = await self._library.spooled_on(file_id)
        if node_id is None or node_id == self._settings.resolved_node_id():
            return None
        base = await self._node_url(node_id)
        if not base:
            return None
        return base.rstrip("/") + url_path + (f"?{urlencode(query)}" if query else "")

    async def _not_suspended(self, app_id: str) -> None:
        """Playback stops once the balance has been at or below zero past the grace period."""
        since = await self._lookup.overdue_since(app_id)
        grace = self._settings.billing_playback_grace_seconds
        if since is not None and (datetime.now(UTC) - since).total_seconds() > grace:
            raise LivetapeError(Catalogue.PLAYBACK_SUSPENDED,
                                f"the balance has been at or below zero since "
                                f"{since.isoformat()} (grace {grace:g} s)")
