"""Schemathesis fuzzes the whole HTTP API of a live server, on SQLite and on PostgreSQL: with
the app's secret key, with a user token, and without credentials.

Its CLI loads ``/openapi.json`` from the server over HTTP, as any client would, and sends
every operation its documented examples, the coverage phase's boundary and invalid values
(integers past any column, impossible dates, NUL characters, wrong types, missing fields,
other methods), ``LIVETAPE_FUZZ_MAX_EXAMPLES`` random cases (valid and invalid) and stateful
sequences that reuse the ids answers return. Every answer must be no 5xx and exactly what the
schema says: a documented status, its content type, a body matching its schema (errors:
``{"code", "message", "hint"}``) and its documented headers. No check is excluded.

The run is reproducible: one seed (``LIVETAPE_FUZZ_SEED``), nothing kept from earlier runs
(``schemathesis.toml``). Keys are
fuzzed too: the hooks (``fuzz_hooks.py``) follow each successful key rotation, so a rotation
with ``grace_seconds: 0`` does not lock the fuzzer out; revoking reaches only keys it no longer
uses (the current one answers 1002). The reports land in ``test-artifacts/fuzz/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
import pytest

from livetape_harness.server import ServerFactory

MAX_EXAMPLES = os.environ.get("LIVETAPE_FUZZ_MAX_EXAMPLES", "20")
SEED = os.environ.get("LIVETAPE_FUZZ_SEED", "10")
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance")
HOOKS = Path(str(find_spec("livetape_harness.fuzz_hooks").origin))  # type: ignore[union-attr]
CONFIG = Path(__file__).parents[1] / "schemathesis.toml"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "fuzz"
OPERATOR_KEY = "fuzz-operator-key-0123456789"
# what a user token may call (everything else answers it 1001, which is fuzzed with the
# other credentials already)
USER_PATHS = r"^/v1/(record|recordings/|rooms/|vod/files/\{file_id\}/play)"


def _fuzz(url: str, reports: Path, keys: dict[str, str],
          *args: str) -> tuple[int, str, dict[str, Any]]:
    shutil.rmtree(reports, ignore_errors=True)
    reports.mkdir(parents=True)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), **keys}
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
         f"{url}/openapi.json", "--checks", CHECKS, "--max-examples", MAX_EXAMPLES,
         "--seed", SEED, "--workers", "1", "--request-timeout", "30",
         "--report", "json", "--report-dir", str(reports), "--no-color", *args],
        env=env, capture_output=True, text=True, timeout=1800, cwd=reports.parent,
    )
    report = json.loads(next(reports.glob("json-*.json")).read_text())
    (reports / "output.txt").write_text(done.stdout + done.stderr)
    return done.returncode, done.stdout + done.stderr, report


@pytest.mark.timeout(1800)  # LIVETAPE_FUZZ_MAX_EXAMPLES may make a run long
@pytest.mark.parametrize("auth", ["server-key", "user-token", "no-auth"])
def test_fuzzing_gets_only_documented_answers(backend: str, auth: str,
                                              start_server: ServerFactory) -> None:
    # GET /v1/events long-polls: 1 s at most, or every case of it waits (the client gives up
    # after 30 s)
    server = start_server(backend, operator_key=OPERATOR_KEY, job_workers=0,
                          events_max_wait_seconds=1)
    keys: dict[str, str] = {}  # read by fuzz_hooks.py
    only: list[str] = []
    if auth == "server-key":
        keys = {"LIVETAPE_FUZZ_KEY": server.secret_key, "LIVETAPE_FUZZ_OPERATOR_KEY": OPERATOR_KEY}
    elif auth == "user-token":
        minted = httpx.post(f"{server.url}/v1/tokens", json={"user_id": "fuzz"},
                            headers={"Authorization": f"Bearer {server.secret_key}"})
        keys = {"LIVETAPE_FUZZ_KEY": minted.json()["token"]}
        only = ["--include-path-regex", USER_PATHS]
    code, output, report = _fuzz(server.url, ARTIFACTS / f"{backend}-{auth}", keys, *only)
    cases = report["test_cases"]
    print(f"fuzz {backend} {auth}: {cases['generated']} cases, "
          f"{report['operations']['tested']} operations, {report['running_time']:.0f} s")
    assert code == 0 and not report["failures"] and not report["errors"], output[-20000:]
    # every operation was reached (all, or all a user may call), with many cases
    documented = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    operations = {f"{method.upper()} {path}": answers["responses"]
                  for path, methods in documented.items() for method, answers in methods.items()
                  if not only or re.match(USER_PATHS, path)}
    assert report["complete"] and report["operations"]["tested"] == len(operations), report
    assert cases["generated"] >= 20 * len(operations) and not cases["with_failures"]
    locked_out = set(report["warnings"]["missing_auth"])  # operations that only got 401/403
    if auth == "server-key":  # the key (rotated meanwhile) and the operator's worked to the end
        assert locked_out == set(), locked_out
    elif auth == "no-auth":  # everything that needs credentials refused them
        assert locked_out == {o for o, answers in operations.items()
                              if "401" in answers and o != "POST /console/session"}, locked_out
    assert "Traceback" not in server.log_text()
