"""ModifyVodInfo's rules (pure: no server): what a body may change under the settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from livetape.config import Settings
from livetape.errors import Catalogue, LivetapeError
from livetape.library.file_changes import FileUpdate, checked_changes

SETTINGS = Settings(max_file_name_length=10, max_tags=2)


def changes(**body: object) -> dict[str, object]:
    return checked_changes(FileUpdate.model_validate(body), SETTINGS)


def refused(**body: object) -> str:
    with pytest.raises(LivetapeError) as caught:
        changes(**body)
    assert caught.value.kind is Catalogue.INVALID_PARAMETER
    return caught.value.detail


def test_only_the_fields_sent_change() -> None:
    assert changes() == {}
    assert changes(file_name="talk", tags=["a", "b"]) == {"file_name": "talk",
                                                         "tags": ["a", "b"]}
    assert changes(description="", class_id=0) == {"description": "", "class_id": 0}


def test_expire_time() -> None:
    assert changes(expire_time=-1) == {"expire_time": None}  # never
    when = changes(expire_time="2030-01-02T03:04:05Z")["expire_time"]
    assert when == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert changes(expire_time=None) == {"expire_time": None}


def test_limits_from_the_settings() -> None:
    assert changes(file_name="x" * 10) == {"file_name": "x" * 10}
    assert refused(file_name="x" * 11) == "file_name: 1-10 characters, no '/'"
    assert refused(file_name=None) == "file_name: 1-10 characters, no '/'"
    assert refused(tags=["a", "b", "c"]) == "at most 2 tags"


def test_null_is_refused_where_a_value_is_needed() -> None:
    for name in ("description", "class_id", "tags"):
        assert refused(**{name: None}) == f"{name} cannot be null"
