"""ModifyVodInfo's body: the fields of a library file an app may change, and their rules.

:class:`FileUpdate` is the body as sent (absent = unchanged); :func:`checked_changes` turns
it into the changes ``Library.modify`` (:mod:`livetape.library.files`) applies, refusing (1000)
what the settings do not allow: a name longer than ``LIVETAPE_MAX_FILE_NAME_LENGTH``, more
than ``LIVETAPE_MAX_TAGS`` tags, null for a field that cannot be empty.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from livetape.bounds import INT_MAX, TAG_LENGTH, Input, UtcTime
from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError

# ModifyVodInfo's fields, by model attribute: file_name, description, class_id, tags,
# expire_time (None = never)
FileChanges = dict[str, Any]


class FileUpdate(Input):
    """ModifyVodInfo: the fields to change (absent = unchanged)."""

    file_name: str | None = Field(None, min_length=1, max_length=200, pattern="^[^/]*$",
                                  description="at most LIVETAPE_MAX_FILE_NAME_LENGTH characters")
    description: str | None = Field(None, max_length=1000)
    class_id: int | None = Field(None, ge=0, le=INT_MAX)
    tags: list[Annotated[str, Field(min_length=1, max_length=TAG_LENGTH)]] | None = None
    expire_time: UtcTime | Literal[-1] | None = Field(
        None, description="ISO 8601 time after which the file is deleted; -1 = never"
    )


def checked_changes(update: FileUpdate, settings: Settings) -> FileChanges:
    """The fields ``update`` sets, by model attribute (``expire_time`` None = never)."""
    changes = update.model_dump(exclude_unset=True)
    if "file_name" in changes and (
        changes["file_name"] is None or "/" in changes["file_name"]
        or len(changes["file_name"]) > settings.max_file_name_length
    ):
        raise LivetapeError(Catalogue.INVALID_PARAMETER,
                            f"file_name: 1-{settings.max_file_name_length} characters, no '/'")
    if len(changes.get("tags") or []) > settings.max_tags:
        raise LivetapeError(Catalogue.INVALID_PARAMETER, f"at most {settings.max_tags} tags")
    if changes.get("expire_time") == -1:
        changes["expire_time"] = None  # never
    for name in ("description", "class_id", "tags"):
        if name in changes and changes[name] is None:
            raise LivetapeError(Catalogue.INVALID_PARAMETER, f"{name} cannot be null")
    return changes
