"""The success envelope every JSON answer shares: ``{"code": 0, "message": "ok", ...}``.

The original product answers every call with ``code`` and ``message`` beside its fields
(errors use the same two keys with a catalogue code, see ``openapi.ErrorBody``). A route's
response model subclasses :class:`Envelope` and adds its fields at the top level; a call with
nothing to say answers :class:`Ok`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """``code`` 0 and ``message`` "ok", beside the operation's own fields."""

    model_config = ConfigDict(from_attributes=True)

    code: Literal[0] = Field(default=0,
                             description="0: success (errors carry the catalogue's code)")
    message: str = "ok"


class Ok(Envelope):
    """A call that answers nothing but success."""
