"""The price table and day pricing, checked against amounts worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from livetape.billing.charges import PricedDay, price_days
from livetape.billing.plans import Plan, Schedule
from livetape.billing.prices import PriceTable
from livetape.billing.usage import DayUsage
from livetape.config import Settings

GB = 2**30
PRICES = PriceTable.model_validate({
    "traffic_tiers": [{"up_to_gb": 1, "cny_per_gb": "0.5"}, {"cny_per_gb": "0.2"}],
    "package_storage_cny_per_gb_month": "0.1", "package_traffic_cny_per_gb": "0.15",
})


def items(day: PricedDay) -> dict[str, int]:
    return {line["item"]: line["amount"] for line in day.lines}


def test_defaults_are_the_documented_table() -> None:
    prices = Settings().prices
    assert prices.storage_cny_per_gb_day == Decimal("0.0043")
    assert [str(p) for p in prices.transcode_cny_per_minute.values()] == [
        "0.016", "0.0325", "0.063", "0.136", "0.278"]
    # 3 TB in one month: 2 TB at 0.21, then 1 TB at 0.20
    assert prices.traffic_total(3 * 1024 * GB) == Decimal("634.88")


@pytest.mark.parametrize("table", [
    {"traffic_tiers": [{"up_to_gb": 10, "cny_per_gb": 1}]},  # no open-ended last tier
    {"traffic_tiers": [{"up_to_gb": 10, "cny_per_gb": 1}, {"up_to_gb": 5, "cny_per_gb": 1},
                       {"cny_per_gb": 1}]},
    {"transcode_cny_per_minute": {"sd": 1}},
    {"storage_cny_per_gb_day": "-1"},
])
def test_a_bad_table_is_refused(table: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PriceTable.model_validate(table)


def test_postpaid_traffic_is_tiered_by_the_months_running_total() -> None:
    days = [DayUsage("2026-10-30", traffic=GB * 3 // 4), DayUsage("2026-10-31", traffic=GB // 2),
            DayUsage("2026-11-01", traffic=GB // 2)]
    priced = list(price_days(PRICES, Schedule(()), days))
    assert items(priced[0])["traffic"] == 375_000            # 0.75 GB at 0.5
    assert items(priced[1])["traffic"] == 125_000 + 50_000   # 0.25 at 0.5, 0.25 at 0.2
    assert items(priced[2])["traffic"] == 250_000            # a new month starts at 0.5
    assert all(p.plan.mode == "postpaid" for p in priced)


def test_storage_and_transcoding() -> None:
    day = DayUsage("2026-11-02", storage_peak=2 * GB, transcode_ms={"hd": 90_000, "4k": 60_000})
    (priced,) = price_days(PRICES, Schedule(()), [day])
    assert items(priced) == {"storage": 8_600, "traffic": 0, "transcode_hd": 48_750,
                             "transcode_4k": 278_000}
    assert priced.amount == 8_600 + 48_750 + 278_000
    hd = next(line for line in priced.lines if line["item"] == "transcode_hd")
    assert (hd["quantity"], hd["unit"], hd["price"]) == ("1.500000", "minute", "0.0325")


def test_a_package_includes_storage_and_monthly_traffic_and_bills_overage() -> None:
    package = Plan("package", storage_gb=1, traffic_gb=1, since="2026-11-02")
    schedule = Schedule((package,))
    days = [DayUsage("2026-11-01", traffic=GB // 2, storage_peak=2 * GB),  # still postpaid
            DayUsage("2026-11-02", traffic=GB // 2, storage_peak=2 * GB),
            DayUsage("2026-11-03", traffic=GB, storage_peak=GB // 2),
            DayUsage("2026-12-01", traffic=GB // 2)]
    first, second, third, next_month = price_days(PRICES, schedule, days)
    assert first.plan.mode == "postpaid" and "package" not in items(first)
    assert items(first)["storage"] == 8_600
    # the package's first day: its fee (1 GB x 0.1 + 1 GB x 0.15), 1 of 2 GB stored included,
    # the month's package traffic starts at 0 (the postpaid day before does not count)
    assert items(second) == {"storage": 4_300, "traffic": 0, "package": 250_000}
    # 0.5 GB left included: the other 0.5 GB is overage, priced from the first tier
    assert items(third) == {"storage": 0, "traffic": 250_000}
    traffic = next(line for line in third.lines if line["item"] == "traffic")
    assert (traffic["used"], traffic["quantity"]) == ("1.000000", "0.500000")
    # a new month: the fee again, the included traffic again
    assert items(next_month) == {"storage": 0, "traffic": 0, "package": 250_000}


def test_a_schedule_applies_each_plan_from_its_day() -> None:
    schedule = Schedule((Plan("package", 5, 0, "2026-11-10"), Plan("postpaid", since="2026-11-20")))
    assert schedule.on("2026-11-09").mode == "postpaid"
    assert schedule.on("2026-11-10").mode == "package"
    assert schedule.on("2026-11-19").storage_gb == 5
    assert schedule.on("2026-11-20").mode == "postpaid"
