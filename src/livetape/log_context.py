"""What a log line is about, and how lines are written.

The request being served (``request_id``), its app, its room and a recording are kept in
context variables: set once where they become known (the HTTP edge, a recorder's tasks),
they follow the work into every task it starts, and :class:`ContextFilter` puts them on each
record. ``LIVETAPE_LOG_FORMAT=json`` writes one JSON object per line with them
(python-json-logger); ``text`` (the default) writes the usual line, unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("request_id", "app_id", "room_id", "recording_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_VARS: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"livetape_{name}", default=None) for name in FIELDS
}


def bind(**values: str | None) -> list[Token[str | None]]:
    """Set some of :data:`FIELDS` for the rest of this context (and the tasks it starts)."""
    return [_VARS[name].set(value) for name, value in values.items()]


def unbind(tokens: list[Token[str | None]]) -> None:
    for token in reversed(tokens):
        token.var.reset(token)


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    tokens = bind(**values)
    try:
        yield
    finally:
        unbind(tokens)


def current() -> dict[str, str]:
    """The fields set here, by name."""
    return {name: value for name, var in _VARS.items() if (value := var.get()) is not None}


class ContextFilter(logging.Filter):
    """Adds every field of :data:`FIELDS` to a record (None where unset)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _VARS.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class _Json(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in log_data.items() if v is not None}  # unset fields left out


def configure(log_format: str, level: int) -> None:
    """Log to stderr as ``log_format`` ("text" or "json") from ``level`` on (the root
    logger: uvicorn's and the libraries' lines too)."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if log_format == "json":
        handler.setFormatter(_Json(
            "%(asctime)s %(levelname)s %(name)s %(message)s " + " ".join(
                f"%({name})s" for name in FIELDS),
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        ))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
