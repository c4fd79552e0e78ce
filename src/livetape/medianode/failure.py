"""A :class:`LivetapeError` as plain values, so a media node's refusals cross a wire intact.

The catalogue row travels as its code, with the error's detail, hint and extra body fields;
:meth:`NodeFailure.error` raises the same row again on the other side.
"""

from __future__ import annotations

from typing import Any

from livetape.errors import Catalogue, ErrorKind, LivetapeError
from livetape.medianode.interface import Message


def _rows() -> dict[int, ErrorKind]:
    return {row.code: row for row in Catalogue.rows()}


class NodeFailure(Message):
    code: int
    detail: str | None = None
    hint: str | None = None
    extra: dict[str, Any] = {}

    @classmethod
    def of(cls, error: LivetapeError) -> NodeFailure:
        hint = error.hint if error.hint != error.kind.hint else None
        return cls(code=error.code, detail=error.detail, hint=hint, extra=dict(error.extra))

    def error(self) -> LivetapeError:
        """The error again; a code this side does not know becomes INTERNAL_ERROR."""
        kind = _rows().get(self.code)
        if kind is None:
            detail = f": {self.detail}" if self.detail else ""
            return LivetapeError(Catalogue.INTERNAL_ERROR, f"media node error {self.code}{detail}")
        return LivetapeError(kind, self.detail, hint=self.hint, **self.extra)
