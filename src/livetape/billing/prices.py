"""The price table: what storage, traffic, transcoding and packages cost, in CNY.

It is configuration (``LIVETAPE_PRICES``, JSON; any field left out keeps its default).
The defaults are the original product's published list prices where they could be found,
the rest documented placeholders (README, "Billing"):

- transcoding, H.264, per output minute by resolution tier: SD 0.016, HD 0.0325,
  FHD 0.063, 2K 0.136, 4K 0.278 (cloud.tencent.com/document/product/862/36181);
- storage: 0.0043 per GB per day of the day's peak (the published VOD figure, as a
  comparable product lists it too);
- playback traffic, tiered by the month's running total: 0.21 up to 2 TB, 0.20 to 10 TB,
  0.18 to 50 TB, 0.15 to 100 TB, 0.12 beyond (the VOD acceleration list as remembered, not
  re-checked here);
- packages: a month of included storage or traffic costs what the same use would cost
  postpaid (0.129 per GB-month, 0.21 per GB) until the operator sets a discount.

A GB is 2**30 bytes.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field, model_validator

GB = 2**30
# transcoding tiers by an output's short side: up to 480, 720, 1080, 1440 pixels, and above
TIERS = ("sd", "hd", "fhd", "2k", "4k")


class TrafficTier(BaseModel):
    """A price per GB for the month's traffic up to ``up_to_gb`` (None: no upper bound)."""

    up_to_gb: int | None = Field(None, gt=0)
    cny_per_gb: Decimal = Field(ge=0)


def _default_tiers() -> list[TrafficTier]:
    return [TrafficTier(up_to_gb=gb, cny_per_gb=Decimal(p)) for gb, p in (
        (2 * 1024, "0.21"), (10 * 1024, "0.20"), (50 * 1024, "0.18"), (100 * 1024, "0.15"),
        (None, "0.12"))]


def _default_transcode() -> dict[str, Decimal]:
    return {tier: Decimal(p) for tier, p in zip(
        TIERS, ("0.016", "0.0325", "0.063", "0.136", "0.278"), strict=True)}


class PriceTable(BaseModel):
    storage_cny_per_gb_day: Decimal = Field(Decimal("0.0043"), ge=0)
    traffic_tiers: list[TrafficTier] = Field(default_factory=_default_tiers)
    transcode_cny_per_minute: dict[str, Decimal] = Field(default_factory=_default_transcode)
    package_storage_cny_per_gb_month: Decimal = Field(Decimal("0.129"), ge=0)
    package_traffic_cny_per_gb: Decimal = Field(Decimal("0.21"), ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> PriceTable:
        bounds = [t.up_to_gb for t in self.traffic_tiers]
        if not bounds or bounds[-1] is not None or None in bounds[:-1]:
            raise ValueError("traffic_tiers: the last tier (only) has no up_to_gb")
        finite = [b for b in bounds if b is not None]
        if finite != sorted(set(finite)):
            raise ValueError("traffic_tiers: up_to_gb must increase")
        if set(self.transcode_cny_per_minute) != set(TIERS):
            raise ValueError(f"transcode_cny_per_minute needs exactly the tiers {TIERS}")
        if any(p < 0 for p in self.transcode_cny_per_minute.values()):
            raise ValueError("transcode_cny_per_minute: prices cannot be negative")
        return self

    def traffic_total(self, sent: int) -> Decimal:
        """What ``sent`` bytes cost as one month's running total, tier by tier."""
        cost, below = Decimal(0), 0
        for tier in self.traffic_tiers:
            top = sent if tier.up_to_gb is None else min(sent, tier.up_to_gb * GB)
            if top > below:
                cost += Decimal(top - below) * tier.cny_per_gb / GB
            if tier.up_to_gb is not None:
                below = max(below, tier.up_to_gb * GB)
            if sent <= below:
                break
        return cost

    def traffic(self, before: int, sent: int) -> Decimal:
        """What ``sent`` more bytes cost when the month had run to ``before`` bytes."""
        return self.traffic_total(before + sent) - self.traffic_total(before)

    def package_fee(self, storage_gb: int, traffic_gb: int) -> Decimal:
        """A month of a package with these inclusions."""
        return (storage_gb * self.package_storage_cny_per_gb_month
                + traffic_gb * self.package_traffic_cny_per_gb)
