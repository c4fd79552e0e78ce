"""A library file in full, as ``GET /v1/vod/files/{file_id}`` shows it: the file's view with
its play URLs, and its processing jobs."""

from __future__ import annotations

from pydantic import Field

from livetape.db.models import VodFile
from livetape.jobs.job_view import JobView
from livetape.library.files import FileExtras, UrlFor
from livetape.library.views import FileView, file_view


class FileDetail(FileView):
    """A file in full: its processing jobs too."""

    jobs: list[JobView] = Field(description="its jobs, as GET /v1/vod/jobs shows them")


def file_detail(row: VodFile, extras: FileExtras, url_for: UrlFor) -> FileDetail:
    """A file in full: :func:`file_view` and its jobs (oldest first)."""
    view = file_view(row, extras, url_for)
    return FileDetail(**dict(view), jobs=[JobView.of(job) for job in extras.jobs])
