"""The playback service's pure part (no server): how much of an MP4 a trial serves for the
ranges asked. The checks against live servers are in test_signed_urls.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from livetape.errors import Catalogue, LivetapeError
from livetape.playback.playback_service import Playable


def playable(tmp_path: Path, last_byte: int | None) -> Playable:
    path = tmp_path / "f0.mp4"
    path.write_bytes(b"\0" * 1000)
    return Playable(path, os.stat(path), "video/mp4", last_byte=last_byte,
                    trial=5 if last_byte is not None else 0)


def test_no_trial_serves_what_was_asked(tmp_path: Path) -> None:
    whole = playable(tmp_path, None)
    assert whole.clip(None) is None
    assert whole.clip([(0, 9), (500, 999)]) == [(0, 9), (500, 999)]


def test_trial_cuts_at_its_last_byte(tmp_path: Path) -> None:
    trial = playable(tmp_path, 399)
    assert trial.clip(None) == [(0, 399)]  # no Range: the trial, as one range
    assert trial.clip([(100, 199)]) == [(100, 199)]
    assert trial.clip([(300, 999)]) == [(300, 399)]  # crossing the end: cut short
    assert trial.clip([(399, 399)]) == [(399, 399)]
    assert trial.clip([(0, 9), (500, 599)]) == [(0, 399)]  # several parts: the trial
    with pytest.raises(LivetapeError) as past:
        trial.clip([(400, 999)])
    assert past.value.kind is Catalogue.PLAY_FORBIDDEN
    assert "past the 5 s trial (bytes from 400 on)" in past.value.detail
