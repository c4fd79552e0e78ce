"""NodeFailure: a catalogued error as plain values, and back, for every row."""

from __future__ import annotations

import pytest

from livetape.errors import Catalogue, ErrorKind, LivetapeError
from livetape.medianode.failure import NodeFailure


def over_the_wire(error: LivetapeError) -> LivetapeError:
    return NodeFailure.model_validate_json(NodeFailure.of(error).model_dump_json()).error()


@pytest.mark.parametrize("kind", Catalogue.rows(), ids=lambda kind: kind.name)
def test_every_row_comes_back_as_itself(kind: ErrorKind) -> None:
    error = over_the_wire(LivetapeError(kind, "a detail"))
    assert error.kind is kind and error.body() == LivetapeError(kind, "a detail").body()


def test_detail_hint_and_extra_fields_are_kept() -> None:
    sent = LivetapeError(Catalogue.ALREADY_ENDED, "it ended: idle", hint="a specific hint",
                         recording_id="rec_1", file_ids=["f1", "f2"], end_reason="idle")
    back = over_the_wire(sent)
    assert back.body() == sent.body()
    assert (back.hint, back.extra["file_ids"]) == ("a specific hint", ["f1", "f2"])
    plain = over_the_wire(LivetapeError(Catalogue.NOT_RECORDING))
    assert (plain.detail, plain.hint) == (None, Catalogue.NOT_RECORDING.hint)


def test_a_code_this_side_does_not_know_is_an_internal_error() -> None:
    error = NodeFailure(code=99999999, detail="from a newer node").error()
    assert error.kind is Catalogue.INTERNAL_ERROR
    assert error.detail == "media node error 99999999: from a newer node"
