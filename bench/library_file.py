"""The serving benchmark's file: a generated MP4, put in a fresh livetape library, served.

``/usr/bin/ffmpeg`` makes the clip once (cached under /tmp by its settings); a copy goes into
the library with the library's own API (``Library.add_recorded``, which moves it into
storage); a real ``livetape serve`` process starts on that data dir and the play URL comes
from ``GET /v1/vod/play-info`` exactly as returned (signed if the app signs). Before any load,
:func:`check_bytes` compares one range and the whole file from a server with the source.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from livetape.config import Settings
from livetape.db.session import Database
from livetape.library.files import Library, Provenance
from livetape.processing.probe import probe
from livetape.storage import create_storage
from livetape_harness.server import LiveServer

CLIP_CACHE = Path(tempfile.gettempdir()) / "livetape-bench-serve"
FILE_NAME = "bench-serve"


def make_clip(seconds: float, bitrate: str) -> Path:
    """A 1280x720@30 H.264 + AAC MP4 (noise keeps x264 at the bitrate), cached by its settings."""
    path = CLIP_CACHE / f"clip-{seconds:g}s-{bitrate}.mp4"
    if path.exists():
        return path
    CLIP_CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.mp4")
    subprocess.run([
        "/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", f"{seconds:g}",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate, "-maxrate", bitrate,
        "-bufsize", "8M", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
        "-movflags", "+faststart", str(partial)], check=True, timeout=600)
    partial.rename(path)
    return path


async def add_to_library(data_dir: Path, app_id: str, clip: Path,
                         storage_url: str | None = None) -> str:
    """Put a copy of ``clip`` in the library at ``data_dir`` (it is moved into storage, the
    data dir's folder or ``storage_url``: S3 reads its credentials from this process's
    environment)."""
    settings = Settings(data_dir=data_dir, storage_url=storage_url)
    db = Database(settings.resolved_database_url())
    await db.start()
    try:
        incoming = data_dir / "incoming.mp4"
        await asyncio.to_thread(shutil.copyfile, clip, incoming)
        info = await asyncio.to_thread(probe, incoming)
        library = Library(db.sessions, create_storage(settings), settings)
        source = Provenance(app_id, FILE_NAME, "bench-serve", 0, "bench", "bench", "camera",
                            0, [])
        return await library.add_recorded(source, incoming, info)
    finally:
        await db.stop()


async def play_url(server: LiveServer) -> str:
    """``file_set[0].play_set[0].url`` of play info, as a client gets it."""
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        response = await http.get(f"{server.url}/v1/vod/play-info",
                                  params={"file_name": FILE_NAME},
                                  headers={"Authorization": f"Bearer {server.secret_key}"})
        response.raise_for_status()
    return str(response.json()["file_set"][0]["play_set"][0]["url"])


async def serve_clip(server: LiveServer, clip: Path) -> str:
    """A new app and library in ``server``'s (new) data dir holding ``clip`` (in the storage
    its ``LIVETAPE_STORAGE_URL`` names), the server started on it; returns the play URL."""
    server.data_dir.mkdir(parents=True)
    server.app_id, server.secret_key = await asyncio.to_thread(server.create_app, "bench")
    await add_to_library(server.data_dir, server.app_id, clip,
                         server.env.get("LIVETAPE_STORAGE_URL"))
    await asyncio.to_thread(server.start)
    return await play_url(server)


async def check_bytes(url: str, clip: Path) -> None:
    """One range and the whole file from ``url`` equal the file's bytes (not timed; a 302
    is followed)."""
    data = clip.read_bytes()
    first, last = len(data) // 3, len(data) // 3 + 99_999
    async with httpx.AsyncClient(trust_env=False, timeout=60, follow_redirects=True) as http:
        part = await http.get(url, headers={"Range": f"bytes={first}-{last}"})
        whole = await http.get(url)
    if part.status_code != 206 or part.content != data[first:last + 1]:
        raise RuntimeError(f"{url}: range check failed ({part.status_code}, "
                           f"{len(part.content)} B): {part.text[:300]!r}")
    if whole.status_code != 200 or whole.content != data:
        raise RuntimeError(f"{url}: whole-file check failed ({whole.status_code})")
