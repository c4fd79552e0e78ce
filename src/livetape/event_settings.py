"""The settings of events: webhook deliveries (retries, timeouts, concurrency, the SSRF guard)
and the event feed's long-poll.

Part of :class:`livetape.config.Settings` (which extends this class), kept apart so the
events feature's limits read in one place (README: Configuration, Webhooks).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EventSettings(BaseSettings):
    """``LIVETAPE_WEBHOOK_*`` and ``LIVETAPE_EVENTS_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="LIVETAPE_", extra="ignore")

    webhook_retry_hours: float = Field(
        24.0, gt=0, le=24 * 30, description="How long a webhook delivery is retried (with "
        "exponential backoff) while the receiver fails or is down; then it is marked failed.",
    )
    webhook_retry_first_seconds: float = Field(
        5.0, gt=0, description="The wait before a failed delivery's second attempt; it doubles "
        "at each failure, up to webhook_retry_max_seconds.",
    )
    webhook_retry_max_seconds: float = Field(
        3600.0, gt=0, description="The longest wait between two attempts of a delivery.",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="One delivery attempt (connect, send, answer) may take "
        "this long; a slower receiver counts as failed and is retried.",
    )
    webhook_concurrency: int = Field(
        8, ge=1, le=256, description="Deliveries one server sends at once (all receivers "
        "together): a slow receiver holds at most these, never a recording.",
    )
    webhook_poll_seconds: float = Field(
        1.0, gt=0, description="How often a server looks for deliveries that are due (events "
        "are written by any server of the database).",
    )
    webhook_allow_private: bool = Field(
        False, description="Allow webhook URLs that resolve to loopback, private, link-local "
        "or other non-public addresses (checked at registration and again at each delivery). "
        "Off: such URLs are refused (SSRF guard).",
    )
    webhooks_per_app: int = Field(16, ge=1, description="Most webhook endpoints per app.")
    events_max_wait_seconds: float = Field(
        25.0, ge=0, le=300, description="Longest long-poll of GET /v1/events (wait_seconds "
        "above it is cut to it); below the 30 s many proxies and clients give up after.",
    )
    events_poll_seconds: float = Field(
        0.5, gt=0, description="How often a waiting GET /v1/events looks for new events.",
    )
    events_max_limit: int = Field(
        500, ge=1, le=10000, description="Most events one GET /v1/events answers.",
    )
    events_retention_days: float = Field(
        30.0, ge=0, description="Events older than this are deleted, with their settled "
        "deliveries (an event still being delivered stays until its delivery ends); 0: kept "
        "for ever. The feed and PullEvents then start at the oldest event kept.",
    )
    events_retention_sweep_seconds: float = Field(
        3600.0, gt=0, description="How often old events are looked for and deleted.",
    )
    events_pull_wait_seconds: float = Field(
        5.0, ge=0, le=60, description="The original's PullEvents: how long a pull with no "
        "event to hand out waits for one (the original's 5 s) before it answers none.",
    )
    events_pull_lease_seconds: float = Field(
        30.0, gt=0, description="The original's PullEvents: how long a pulled event's handle "
        "waits for ConfirmEvents; unconfirmed by then, the event is pulled again.",
    )
    events_pull_max_age_hours: float = Field(
        96.0, gt=0, description="The original's PullEvents: events older than this are not "
        "handed out any more (the original keeps unpulled events 4 days).",
    )
