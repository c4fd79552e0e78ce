"""What a request's values may be: what the database can store, whichever it is.

PostgreSQL's INTEGER columns hold 32 bits (SQLite's hold 64), its text cannot hold NUL, a
time must still be a time once converted to UTC (``0001-01-01T00:00+14:00`` is not), and an
id must fit its column. The API declares these bounds where it takes the values (so OpenAPI
shows them) and refuses anything else with 1000 (30000000 in a recording request) before the
database is asked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, field_validator

INT_MAX = 2**31 - 1  # INTEGER columns (class_id, parent_id, status...): PostgreSQL's int4
INT_MIN = -(2**31)
BIGINT_MAX = 2**63 - 1  # BigInteger columns
ID_LENGTH = 64  # room and user ids: String(64) columns
TAG_LENGTH = 64
NUL = "\x00"


def nul_in(value: Any) -> bool:
    """Whether a NUL character is in ``value``: a string, or one inside lists and dicts (keys
    too), as parsed JSON holds them."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(nul_in(k) or nul_in(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(nul_in(v) for v in value)
    return False


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # before year 1 or after 9999 once in UTC
        raise ValueError("the time is out of range once converted to UTC") from exc


UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An ISO 8601 time with its zone, given back in UTC; 1000 without a zone or out of range."""


class Input(BaseModel):
    """Base of the JSON (and form) bodies the API takes: no string in them holds NUL."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if nul_in(value):
            raise ValueError("a NUL character (\\u0000) is not allowed")
        return value
