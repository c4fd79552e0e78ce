"""Fuzzing the original's API 3.0 dialect on a live server: random actions, random JSON
bodies built from the SDK's own field names (and others), raw bytes, headers dropped or
garbled. Every answer must be HTTP 200 with ``Content-Type: application/json`` exactly and
``{"Response": {..., "RequestId"}}`` (the only errors the SDK reads), never an internal error.

The dialect is not in ``/openapi.json`` (its errors are HTTP 200, unlike every REST route's),
so ``tests/api/test_fuzz.py``'s schemathesis run does not reach it: Hypothesis drives it
here, seeded (``derandomize``), so a run is reproducible.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from livetape.tencent import params
from livetape.tencent.dialect import ACTIONS
from livetape.tencent.signature import SignedRequest, tc3_signature
from livetape_harness.server import ServerFactory

EXAMPLES = 150
HEADERS = ("authorization", "x-tc-timestamp", "x-tc-action", "x-tc-version", "host",
           "content-type")
# what a header may hold (no leading or trailing space: h11 refuses to send it)
printable = st.text(st.characters(min_codepoint=32, max_codepoint=126),
                    max_size=40).map(str.strip)
scalars = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=20) | st.sampled_from(["", "9999-12-31T23:59:59Z",
                                                     "0001-01-01T00:00:00+14:00", "CreateTime",
                                                     "basicInfo", "-1", "Asc"]))


def _bodies(action: str) -> st.SearchStrategy[bytes]:
    """JSON objects mostly made of the action's own fields (nested ones too), or raw bytes."""
    model = ACTIONS[action].model if action in ACTIONS else params.SearchMedia
    names = st.sampled_from(sorted(model.model_fields)) | st.text(max_size=10)
    nested = st.sampled_from(["Field", "Order", "After", "Before", "Definition",
                              "TimeOffsetSet", "TranscodeTaskSet", "WatermarkSet", "Type",
                              "SnapshotByTimeOffsetTaskSet"])
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(nested | st.text(max_size=8), inner, max_size=4),
                          max_leaves=10)
    required = st.fixed_dictionaries({name: values for name, field in model.model_fields.items()
                                      if field.is_required()})
    objects = st.tuples(required, st.dictionaries(names, values, max_size=5)).map(
        lambda pair: json.dumps({**pair[1], **pair[0]}).encode())
    return st.one_of(objects, objects, objects, st.binary(max_size=64))


# mostly the dialect's actions; sometimes one it lacks, none, or any text
actions = st.sampled_from([*sorted(ACTIONS) * 8, "DescribeEventsState", "", "?"]).flatmap(
    lambda a: printable if a == "?" else st.just(a))
# mostly as signed; sometimes a header dropped or changed after signing
garbles = st.sampled_from([*[""] * 6, *HEADERS]).flatmap(
    lambda h: st.none() if not h else st.tuples(st.just(h), st.none() | printable))


def _signed(app_id: str, key: str, host: str, action: str, body: bytes) -> dict[str, str]:
    now = int(time.time())
    date = time.strftime("%Y-%m-%d", time.gmtime(now))
    headers = {"content-type": "application/json", "host": host, "x-tc-action": action,
               "x-tc-version": "2018-07-17", "x-tc-timestamp": str(now)}
    signature = tc3_signature(key, SignedRequest("POST", "", headers, body),
                              ["content-type", "host"], now, date)
    headers["authorization"] = (f"TC3-HMAC-SHA256 Credential={app_id}/{date}/vod/tc3_request, "
                                f"SignedHeaders=content-type;host, Signature={signature}")
    return headers


def test_random_calls_get_the_error_shape(start_server: ServerFactory) -> None:
    server = start_server(job_workers=0, events_pull_wait_seconds=0)
    host = f"127.0.0.1:{server.port}"
    codes: dict[str, int] = {}

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
    @given(call=actions.flatmap(lambda a: st.tuples(st.just(a), _bodies(a))), garble=garbles)
    def one(call: tuple[str, bytes], garble: tuple[str, str | None] | None) -> None:
        action, body = call
        headers = _signed(server.app_id, server.secret_key, host, action, body)
        if garble is not None:  # after signing: a header dropped or changed
            name, value = garble
            del headers[name]
            if value is not None:
                headers[name] = value
        answer = http.post(f"{server.url}/", headers=headers, content=body)
        assert answer.status_code == 200, (action, body, garble, answer.text)
        assert answer.headers["content-type"] == "application/json"
        reply: dict[str, Any] = answer.json()["Response"]
        assert reply["RequestId"]
        code = reply.get("Error", {}).get("Code", "ok")
        assert code != "InternalError", (action, body, garble, reply)
        codes[code] = codes.get(code, 0) + 1

    began = time.monotonic()
    with httpx.Client(timeout=30) as http:
        one()
    print(f"dialect fuzz: {sum(codes.values())} calls in {time.monotonic() - began:.0f} s: "
          f"{dict(sorted(codes.items()))}")
    # the calls reached the actions, not only the signature check
    assert codes.get("ok", 0) > 0 and any(c.startswith("InvalidParameterValue") for c in codes)
    assert "Traceback" not in server.log_text()
