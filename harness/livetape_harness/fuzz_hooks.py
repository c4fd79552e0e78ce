"""Schemathesis hooks for ``test_fuzz.py`` (the CLI loads them from SCHEMATHESIS_HOOKS).

Every request carries the caller's credential (``LIVETAPE_FUZZ_KEY``: the app's secret key
or a user token; none when unset), the operator API the operator key when one is given
(``LIVETAPE_FUZZ_OPERATOR_KEY``). A successful key rotation makes the new key the current
one: the fuzzer rotates keys too (``grace_seconds: 0`` ends the old one at once) without
locking itself out.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

_key = os.environ.get("LIVETAPE_FUZZ_KEY") or None
_operator = os.environ.get("LIVETAPE_FUZZ_OPERATOR_KEY") or None


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case,
                kwargs: dict[str, Any]) -> None:
    key = _operator if _operator and case.path.startswith("/v1/operator/") else _key
    if key:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: schemathesis.Case,
               response: schemathesis.Response) -> None:
    global _key
    if _key and case.path == "/v1/app/keys/rotate" and response.status_code == 200:
        _key = response.json()["secret_key"]
