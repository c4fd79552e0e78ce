"""TEST ONLY: a node that misbehaves on purpose (LIVETAPE_TEST_NODE_FAULT), so that every
code a control plane gives a broken node (30000208, 30000301-30000305, 30000414) is produced
against a real NATS server. Unset, :class:`Fault` changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

GARBAGE = b"\x89not JSON at all\x00"


def _without(value: Any, field: str) -> Any:
    """``value`` with every object key ``field`` removed, at any depth."""
    if isinstance(value, dict):
        return {k: _without(v, field) for k, v in value.items() if k != field}
    if isinstance(value, list):
        return [_without(v, field) for v in value]
    return value


@dataclass(frozen=True)
class Fault:
    setting: str | None

    @property
    def hangs(self) -> bool:
        """The node never answers (the caller times out)."""
        return self.setting == "hang"

    @property
    def forgets_operations(self) -> bool:
        """The node answers as if it did not know the operation."""
        return self.setting == "unknown-op"

    def reply(self, body: dict[str, Any], encoded: bytes) -> bytes:
        """What the node sends instead of ``encoded`` (the JSON of ``body``)."""
        if self.setting == "garbage":
            return GARBAGE
        if self.setting == "shape":
            return json.dumps([body]).encode()
        if self.setting and self.setting.startswith("drop:"):
            return json.dumps(_without(body, self.setting.removeprefix("drop:"))).encode()
        return encoded
