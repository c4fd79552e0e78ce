"""Each class of bad input the fuzzer (and hand probes) found answering 500 now answers 4xx with
the catalogue's body, on both databases where the database matters; an unexpected fault
answers 500 with the catalogue's body too; OpenAPI documents all of it."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import httpx

from livetape.errors import Catalogue
from livetape_harness.server import LiveServer, ServerFactory
from tests.api.test_errors import assert_error

BIG = [2**31, 2**63, 10**30]  # past PostgreSQL's INTEGER, past any 64-bit column, past both
INVALID, PARSE = Catalogue.INVALID_PARAMETER.code, Catalogue.PARSE_FAILURE.code
START = {"operation": "start", "room_id": "room-1", "user_id": "alice", "file_name": "f"}


class Api:
    """Plain HTTP calls with the app's secret key (or none)."""

    def __init__(self, server: LiveServer, *, key: bool = True) -> None:
        headers = {"Authorization": f"Bearer {server.secret_key}"} if key else {}
        self.http = httpx.Client(base_url=server.url, headers=headers, timeout=30)

    def __getattr__(self, method: str) -> Any:
        return getattr(self.http, method)


def test_integers_ids_and_nul_characters(backend: str, start_server: ServerFactory) -> None:
    server = start_server(backend)
    api = Api(server)
    assert api.post("/v1/rooms", json={"room_id": "room-1"}).status_code == 201
    for big in BIG:
        for query in (f"class_id={big}", f"status={big}", f"status=-{big + 1}",
                      f"page_no={big}"):
            assert_error(api.get(f"/v1/vod/files?{query}"), INVALID, 400)
        assert_error(api.get(f"/v1/vod/play-info?file_name=f&page_no={big}"), INVALID, 400)
        assert_error(api.post("/v1/vod/classes", json={"name": "c", "parent_id": big}),
                     INVALID, 400)
        assert_error(api.patch(f"/v1/vod/classes/{big}", json={"name": "c"}), INVALID, 400)
        assert_error(api.delete(f"/v1/vod/classes/{big}"), INVALID, 400)
        assert_error(api.patch("/v1/vod/files/nothing", json={"class_id": big}), INVALID, 400)
        assert_error(api.put("/v1/billing/plan", json={"mode": "package", "storage_gb": big}),
                     INVALID, 400)
        assert_error(api.post("/v1/record", json={**START, "class_id": big}), PARSE, 400)
    # the largest values the columns hold are still asked of the database
    top = 2**31 - 1
    found = api.get(f"/v1/vod/files?class_id={top}&status=-{top + 1}&page_no={top}")
    assert found.status_code == 200 and found.json()["total_count"] == 0, found.text
    assert_error(api.patch(f"/v1/vod/classes/{top}", json={"name": "c"}), 10008, 404)
    assert_error(api.post("/v1/vod/classes", json={"name": "c", "parent_id": top}), 10008, 404)
    plan = api.put("/v1/billing/plan", json={"mode": "package", "storage_gb": 10**9})
    assert plan.status_code == 200, plan.text

    # ids longer than their columns (64): refused before any write
    long = "r" * 65
    assert_error(api.post("/v1/rooms", json={"room_id": long}), INVALID, 400)
    assert_error(api.post("/v1/record", json={**START, "room_id": long}), PARSE, 400)
    assert_error(api.post("/v1/record", json={**START, "user_id": long}), PARSE, 400)
    assert_error(api.post("/v1/record", json={**START, "tags": ["t" * 65]}), PARSE, 400)
    assert_error(api.post("/v1/tokens", json={"user_id": long}), INVALID, 400)
    assert_error(api.post("/v1/rooms/room-1/whip", params={"user_id": long}, content="v=0",
                          headers={"Content-Type": "application/sdp"}), INVALID, 400)
    assert api.post("/v1/rooms", json={"room_id": "r" * 64}).status_code == 201

    # NUL in any string: in the path, the query, a JSON body, a form
    for url in ("/v1/rooms/a%00b", "/v1/recordings/rec%00", "/v1/vod/files/f%00/play",
                "/v1/vod/files?room_id=a%00", "/v1/vod/files?tags=a%00b",
                "/v1/vod/files?name_prefix=%00", "/v1/vod/jobs?file_id=%00",
                "/v1/vod/files?x%00=1"):
        body = assert_error(api.get(url), INVALID, 400)
        assert "NUL" in body["message"]
    assert_error(api.delete("/v1/rooms/room%001"), INVALID, 400)
    assert_error(api.get("/media/app%00/file/f0.mp4"), 10008, 404)  # the file server's 404
    nul = "a\x00b"
    for path, body in (("/v1/rooms", {"room_id": nul}), ("/v1/tokens", {"user_id": nul}),
                       ("/v1/vod/classes", {"name": nul}),
                       ("/v1/tokens", {"user_id": "u", "privileges": [nul]})):
        assert "NUL" in assert_error(api.post(path, json=body), INVALID, 400)["message"]
    for change in ({"file_name": nul}, {"description": nul}, {"tags": ["ok", nul]}):
        assert_error(api.patch("/v1/vod/files/nothing", json=change), INVALID, 400)
    for field in ("room_id", "user_id", "file_name"):
        assert_error(api.post("/v1/record", json={**START, field: nul}), PARSE, 400)
    assert_error(api.post("/v1/record", json={**START, "tags": [nul]}), PARSE, 400)
    public = Api(server, key=False)
    signed_in = {"app_id": server.app_id, "secret_key": server.secret_key + "\x00"}
    assert_error(public.post("/console/session", json=signed_in), INVALID, 400)
    assert_error(public.post("/console/session", data=signed_in), INVALID, 400)
    # what the database keeps is still served
    room = api.get("/v1/rooms/" + "r" * 64)
    assert room.status_code == 200 and room.json()["room_id"] == "r" * 64
    assert "Traceback" not in server.log_text()


def test_dates_and_deep_json(server: LiveServer) -> None:
    api = Api(server)
    for month in ("2026-13", "0000-00", "0000-01", "2026-00", "10000-01", "2026-1"):
        assert_error(api.get(f"/v1/billing/bills?month={month}"), INVALID, 400)
    for month in ("9999-12", "0001-01", "2026-02"):  # every month there is answers
        bills = api.get(f"/v1/billing/bills?month={month}")
        assert bills.status_code == 200 and bills.json()["month"] == month, bills.text
    usage = api.get("/v1/billing/usage?to=0001-01-05")  # 30 days back would be year 0
    assert usage.status_code == 200, usage.text
    assert [d["day"] for d in usage.json()["days"]] == [f"0001-01-0{n}" for n in range(1, 6)]
    assert api.get("/v1/billing/usage?from=9999-12-01&to=9999-12-31").status_code == 200

    # times are aware and still times once in UTC
    for when in ("0001-01-01T00:00+14:00", "9999-12-31T23:00-14:00", "2026-01-01T00:00"):
        assert_error(api.get("/v1/vod/files", params={"from": when}), INVALID, 400)
        assert_error(api.get("/v1/vod/files", params={"to": when}), INVALID, 400)
        assert_error(api.patch("/v1/vod/files/nothing", json={"expire_time": when}),
                     INVALID, 400)
    listed = api.get("/v1/vod/files", params={"from": "0001-01-01T00:00+00:00",
                                              "to": "9999-12-31T23:59:59Z"})
    assert listed.status_code == 200, listed.text
    # far key-rotation grace periods would overflow the key's expiry
    assert_error(api.post("/v1/app/keys/rotate", json={"grace_seconds": 10**12}), INVALID, 400)

    # JSON nested deeper than the parser goes (30,000 levels: 60 KB)
    deep = b"[" * 30_000 + b"]" * 30_000
    headers = {"Content-Type": "application/json"}
    assert_error(api.post("/v1/record", content=deep, headers=headers), PARSE, 400)
    assert_error(api.post("/v1/rooms", content=deep, headers=headers), INVALID, 400)
    assert_error(Api(server, key=False).post("/console/session", content=deep,
                                             headers=headers), INVALID, 400)
    assert "Traceback" not in server.log_text()


def test_an_unexpected_fault_answers_the_catalogue_body(server: LiveServer) -> None:
    """A fault of livetape's (here its database lost a table under it) is a 500 all the
    same, with the catalogue's body, and the traceback in the server's log."""
    api = Api(server)
    assert api.get("/v1/vod/classes").status_code == 200
    with sqlite3.connect(server.data_dir / "livetape.db") as db:
        db.execute("DROP TABLE vod_classes")
    body = assert_error(api.get("/v1/vod/classes"), Catalogue.INTERNAL_ERROR.code, 500)
    assert "OperationalError" in body["message"] and "server log" in body["hint"]
    deadline = time.monotonic() + 10  # uvicorn logs it once the answer is sent
    while "no such table: vod_classes" not in server.log_text():
        assert time.monotonic() < deadline, server.log_text()[-3000:]
        time.sleep(0.1)


def test_openapi_documents_the_answers(server: LiveServer) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    error_body = schema["components"]["schemas"]["ErrorBody"]
    assert error_body["required"] == ["code", "message", "hint"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    public = {("GET", "/console/session"), ("DELETE", "/console/session")}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            name = (method.upper(), path)
            # invalid parameters answer 400; a 422 is only the catalogue's ICE-restart row
            assert responses.get("422", {}).get("description", "1010").startswith("1010"), name
            refused = "404" if path.startswith("/media/") else "400"  # bad params or URLs
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorBody", name
            assert refused in responses, name
            if name not in public and not path.startswith("/media/"):
                assert "1001 unauthorized" in responses["401"]["description"], name
    record = schema["paths"]["/v1/record"]["post"]["responses"]
    assert {"400", "401", "402", "403", "404", "409"} <= set(record)
    assert "30000412 not_recording" in record["409"]["description"]
    classes = schema["paths"]["/v1/vod/classes"]["post"]
    assert classes["responses"]["409"]["description"] == "1002 conflict"
    parent = schema["components"]["schemas"]["NewClass"]["properties"]["parent_id"]
    assert (parent["minimum"], parent["maximum"]) == (0, 2**31 - 1)
