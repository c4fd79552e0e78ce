"""Daily bills on a real server and database: finished days billed exactly once (also after
a finalizer killed mid-run), drawn from the balance; modes switch on the next billing day;
playback stops after the grace period once the balance is used up, and starts again on a
top-up; the monthly report.

Past days' meters are written into the ledger directly (the metering itself is checked
with real traffic in test_billing.py): a test cannot wait for days to pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape.db.models import BalanceEntry, Bill, UsageDay
from livetape.db.session import driver_url
from livetape_harness.flow import publishing, record_all_of, wait_for
from livetape_harness.server import LiveServer, ServerFactory

GB = 2**30
OPERATOR = "operator-key-for-tests-0123456789"
PRICES = json.dumps({"traffic_tiers": [{"up_to_gb": 1, "cny_per_gb": "0.5"},
                                       {"cny_per_gb": "0.2"}]})
TODAY = datetime.now(UTC).date()
MONTH_BEFORE = (TODAY.replace(day=1) - timedelta(days=1)).replace(day=1)
DAYS = [(MONTH_BEFORE + timedelta(days=n)).isoformat() for n in range(4)]
# what the four planted days cost, in micro-CNY, worked out by hand from PRICES:
# 1: 2 GB stored x 0.0043 + 0.75 GB at 0.5 + 1.5 HD minutes x 0.0325
# 2: 2 GB carried + 0.25 GB at 0.5 and 0.25 GB at 0.2 (the first tier ends at 1 GB a month)
# 3: a 3 GB peak (stored, then deleted down to 1 GB)   4: 1 GB carried
EXPECTED = [8_600 + 375_000 + 48_750, 8_600 + 175_000, 12_900, 4_300]
CARRIED = 4_300  # every later day until yesterday keeps 1 GB stored


def engine_of(server: LiveServer) -> Engine:
    return create_engine(driver_url(
        server.database_url or f"sqlite:///{server.data_dir / 'livetape.db'}", use_async=False))


def plant_usage(server: LiveServer, app_id: str) -> None:
    meters = [
        (DAYS[0], "storage_bytes", 2 * GB), (DAYS[0], "storage_peak_bytes", 2 * GB),
        (DAYS[0], "traffic_bytes", GB * 3 // 4), (DAYS[0], "transcode_ms_hd", 90_000),
        (DAYS[1], "traffic_bytes", GB // 2),
        (DAYS[2], "storage_peak_bytes", 3 * GB), (DAYS[2], "storage_bytes", GB),
    ]
    engine = engine_of(server)
    with Session(engine) as session, session.begin():
        session.add_all(UsageDay(app_id=app_id, day=d, meter=m, value=v) for d, m, v in meters)
    engine.dispose()


def expected_total() -> int:
    later = (TODAY - timedelta(days=1) - date.fromisoformat(DAYS[-1])).days
    return sum(EXPECTED) + later * CARRIED


def cny(micro: int) -> str:
    return f"{Decimal(micro) / 1_000_000:.6f}"  # as the API shows amounts


def bill_rows(server: LiveServer) -> list[tuple[str, int, int]]:
    """(day, bill amount, balance entry amount) of every bill, oldest first."""
    engine = engine_of(server)
    with Session(engine) as session:
        bills = {b.day: b.amount for b in session.scalars(select(Bill))}
        entries = {e.ref: e.amount for e in session.scalars(
            select(BalanceEntry).where(BalanceEntry.kind == "bill"))}
    engine.dispose()
    return [(day, amount, entries.get(day, 0)) for day, amount in sorted(bills.items())]


def top_up(server: LiveServer, amount: str, ref: str, app_id: str | None = None) -> Any:
    reply = httpx.post(f"{server.url}/v1/operator/apps/{app_id or server.app_id}/topup",
                       json={"amount": amount, "ref": ref},
                       headers={"Authorization": f"Bearer {OPERATOR}"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def billing_server(start_server: ServerFactory, backend: str, **settings: Any) -> LiveServer:
    return start_server(backend, billing_delay_seconds=0, billing_run_seconds=3600,
                        operator_key=OPERATOR, prices=PRICES, **settings)


async def test_finished_days_are_billed_once_and_drawn_from_the_balance(
        start_server: ServerFactory, backend: str) -> None:
    server = billing_server(start_server, backend)
    assert top_up(server, "100", "order-1")["balance"] == "100.000000"
    plant_usage(server, server.app_id)

    first = server.cli("billing", "finalize")
    assert first["through"] == (TODAY - timedelta(days=1)).isoformat()
    days_billed = (TODAY - date.fromisoformat(DAYS[0])).days
    assert first["bills_written"] == days_billed
    again = server.cli("billing", "finalize")
    assert again["bills_written"] == 0  # a second run bills nothing twice
    rows = bill_rows(server)
    assert [amount for _, amount, _ in rows[:4]] == EXPECTED
    assert all(amount == CARRIED for _, amount, _ in rows[4:])
    assert all(entry == -amount for _, amount, entry in rows)

    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        balance = await api._call("GET", "/v1/billing/balance")
        assert balance["balance"] == cny(100_000_000 - expected_total())
        month = await api._call("GET", "/v1/billing/bills",
                                params={"month": MONTH_BEFORE.isoformat()[:7]})
        assert [b["day"] for b in month["bills"][:4]] == DAYS
        second = {x["item"]: x for x in month["bills"][1]["lines"]}
        assert (second["traffic"]["quantity"], second["traffic"]["amount"]) == ("0.500000",
                                                                                "0.175000")
        assert (second["storage"]["quantity"], second["storage"]["unit"]) == ("2.000000",
                                                                              "GB-day")
        # the usage series carries the same figures, a cost per day, and today's estimate
        usage = (await api._call("GET", "/v1/billing/usage",
                                 params={"from": DAYS[0], "to": TODAY.isoformat()}))["days"]
        assert [d["storage_peak_bytes"] for d in usage[:4]] == [2 * GB, 2 * GB, 3 * GB, GB]
        assert [d["cost"] for d in usage[:4]] == ["0.432350", "0.183600", "0.012900", "0.004300"]
        assert all(d["billed"] for d in usage[:-1]) and not usage[-1]["billed"]
        assert usage[-1]["storage_peak_bytes"] == GB  # today began with yesterday's 1 GB

        # a mode chosen today applies from tomorrow; today stays postpaid
        chosen = await api._call("PUT", "/v1/billing/plan",
                                 json={"mode": "package", "storage_gb": 10, "traffic_gb": 5})
        tomorrow = (TODAY + timedelta(days=1)).isoformat()
        assert chosen["current"] == {"mode": "postpaid", "since": None}
        assert chosen["pending"] == {"mode": "package", "since": tomorrow, "storage_gb": 10,
                                     "traffic_gb": 5}
        assert usage[-1]["mode"] == "postpaid"
        bad = httpx.put(f"{server.url}/v1/billing/plan", json={"mode": "package"},
                        headers={"Authorization": f"Bearer {server.secret_key}"})
        assert (bad.status_code, bad.json()["code"]) == (400, 1000)

    report = server.cli_raw("billing", "report", server.app_id, "--month",
                            MONTH_BEFORE.isoformat()[:7])
    assert report.returncode == 0, report.stderr
    table = report.stdout.decode()
    assert f"{DAYS[0]}  postpaid" in table and "0.432350" in table and "billed" in table
    month_total = sum(EXPECTED) + (len(month["bills"]) - 4) * CARRIED
    (total_row,) = [line for line in table.splitlines() if line.startswith("total")]
    assert cny(month_total) in total_row


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_finalizer_killed_mid_run_bills_every_day_once(
        start_server: ServerFactory, backend: str) -> None:
    """A second connection holds day 3's bill row uncommitted, so the finalizer blocks right
    there after committing days 1 and 2; it is killed (-9) and run again. PostgreSQL only:
    SQLite locks the whole database, so the finalizer could not bill days 1 and 2 first."""
    server = billing_server(start_server, backend)
    plant_usage(server, server.app_id)
    engine = engine_of(server)
    with engine.connect() as holder:
        holder.execute(text("INSERT INTO bills (app_id, day, mode, amount, lines, created_at) "
                            "VALUES (:a, :d, 'postpaid', 0, '[]', now())"),
                       {"a": server.app_id, "d": DAYS[2]})
        env = {**os.environ, "LIVETAPE_DATA_DIR": str(server.data_dir),
               "LIVETAPE_DATABASE_URL": server.database_url or "", "LIVETAPE_PRICES": PRICES,
               "LIVETAPE_BILLING_DELAY_SECONDS": "0"}
        finalizer = subprocess.Popen([sys.executable, "-m", "livetape", "billing", "finalize"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def committed() -> int:
            with Session(engine) as session:
                return int(session.scalar(select(func.count()).select_from(Bill)) or 0)

        deadline = time.monotonic() + 30
        while committed() < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert finalizer.poll() is None  # blocked on day 3
        assert [day for day, _, _ in bill_rows(server)] == DAYS[:2]
        os.kill(finalizer.pid, signal.SIGKILL)
        finalizer.wait(timeout=10)
        holder.rollback()
    engine.dispose()

    rerun = server.cli("billing", "finalize")
    rows = bill_rows(server)
    assert rerun["bills_written"] == len(rows) - 2
    assert [day for day, _, _ in rows[:4]] == DAYS
    assert [amount for _, amount, _ in rows[:4]] == EXPECTED
    assert len({day for day, _, _ in rows}) == len(rows) == (TODAY - MONTH_BEFORE).days
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        balance = await api._call("GET", "/v1/billing/balance")
    assert balance["balance"] == cny(-expected_total())


async def test_playback_stops_after_the_grace_period_and_resumes_on_top_up(
        start_server: ServerFactory) -> None:
    server = billing_server(start_server, "sqlite", billing_enforce="true",
                            billing_playback_grace_seconds=2, media_lookup_seconds=0.2)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        top_up(server, "1", "order-1")
        (file_id,), (entry,) = await record_all_of(server, api, EncodedMedia.synthetic(3.0),
                                                   "kept")
        url = entry["play_set"][0]["url"]
        assert httpx.get(url).status_code == 200
        async with publishing(server, EncodedMedia.synthetic(3.0), user="bob", loop=True,
                              create_room=False):
            running = await api.start_recording("room-1", "running", user_id="bob")
            await suspend_and_check(server, api, url, file_id)
            # a recording running when the balance ran out records on to its end
            before = (await api.get_recording(running))["written"]["video"]

            async def recording_on() -> bool:
                state = await api.get_recording(running)
                return bool(state["state"] == "recording"
                            and state["written"]["video"] >= before + 30)

            await wait_for(recording_on, timeout=15)
            (late,) = await api.stop_recording("room-1", user_id="bob")
        assert (await api.get_file(late))["duration"] > 1

        assert top_up(server, "5", "order-2")["balance"] == "4.700000"
        assert httpx.get(url).status_code == 200  # at once on this server
    denied = httpx.post(f"{server.url}/v1/operator/apps/{server.app_id}/topup",
                        json={"amount": "5", "ref": "x"},
                        headers={"Authorization": f"Bearer {server.secret_key}"})
    assert (denied.status_code, denied.json()["code"]) == (401, 1001)


async def suspend_and_check(server: LiveServer, api: LivetapeClient, url: str,
                            file_id: str) -> None:
    # 5 GB of traffic on a day last month cost 1 x 0.5 + 4 x 0.2 = 1.3: the balance is -0.3
    engine = engine_of(server)
    with Session(engine) as session, session.begin():
        session.add(UsageDay(app_id=server.app_id, day=DAYS[0], meter="traffic_bytes",
                             value=5 * GB))
    engine.dispose()
    server.cli("billing", "finalize")
    assert (await api._call("GET", "/v1/billing/balance"))["balance"] == "-0.300000"
    assert httpx.get(url).status_code == 200  # within the grace period

    async def suspended() -> bool:
        return httpx.get(url).status_code == 403

    await wait_for(suspended, timeout=10)
    refused = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert refused.json()["code"] == 1005 and "top up" in refused.json()["hint"]
    assert "since" in refused.json()["message"]
    # nothing is deleted: the file is listed as before; new recordings answer code 2
    assert (await api.get_file(file_id))["status"] == 2
    start = httpx.post(f"{server.url}/v1/record", json={
        "operation": "start", "room_id": "room-1", "user_id": "alice", "file_name": "x"},
        headers={"Authorization": f"Bearer {server.secret_key}"})
    assert (start.status_code, start.json()["code"]) == (402, 2)
