"""``livetape billing ...``: the operator's commands, run against the database directly
(no server needed): top-ups, billing modes, finalizing days, the monthly report."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import click
from tabulate import tabulate

from livetape.billing.balance import Balances, to_cny, to_micro
from livetape.billing.bills import Biller, last_finished_day, month_span
from livetape.billing.plans import PlanBook, checked
from livetape.billing.prices import GB
from livetape.billing.usage import UsageLedger, utc_today
from livetape.cli.options import DATA_DIR, print_json, settings_from
from livetape.config import Settings
from livetape.db.session import Database, run_against

T = TypeVar("T")


class Billing:
    """The billing services on one database connection."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.balances = Balances(db.sessions)
        self.usage = UsageLedger(db.sessions)
        self.plans = PlanBook(db.sessions)
        self.biller = Biller(db.sessions, self.usage, self.plans, settings.prices)

    async def require_app(self, app_id: str) -> None:
        from livetape.auth.apps import AppService

        if await AppService(self.db.sessions).get(app_id) is None:
            raise click.ClickException(f"no app {app_id!r}")


def _run(data_dir: str | None, job: Callable[[Billing], Awaitable[T]]) -> T:
    settings = settings_from(data_dir or None)
    return run_against(settings.resolved_database_url(), lambda db: job(Billing(db, settings)))


@click.group()
def billing() -> None:
    """Balances, billing modes, daily bills (operator commands, against the database)."""


@billing.command("topup")
@click.argument("app_id")
@click.argument("amount")
@click.option("--ref", default=None, help="Reference; a repeated reference counts once.")
@DATA_DIR
def topup(app_id: str, amount: str, ref: str | None, data_dir: str | None) -> None:
    """Add AMOUNT (CNY, e.g. 100 or 12.50) to APP_ID's balance; prints the new balance."""
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:
        raise click.BadParameter(f"not an amount: {amount!r}") from exc
    if value <= 0:
        raise click.BadParameter("the amount must be positive")
    reference = ref or f"topup-{secrets.token_hex(6)}"

    async def top_up(b: Billing) -> Any:
        await b.require_app(app_id)
        added = await b.balances.move(app_id, "topup", reference, to_micro(value))
        return {"app_id": app_id, "ref": reference, "added": added,
                "balance": to_cny(await b.balances.balance(app_id))}

    print_json(_run(data_dir, top_up))


@billing.command("plan")
@click.argument("app_id")
@click.argument("mode", type=click.Choice(["postpaid", "package", "show"]), default="show")
@click.option("--storage-gb", type=int, default=0, help="package: storage GB included.")
@click.option("--traffic-gb", type=int, default=0, help="package: traffic GB per month.")
@DATA_DIR
def plan(app_id: str, mode: str, storage_gb: int, traffic_gb: int,
         data_dir: str | None) -> None:
    """Show APP_ID's billing mode, or choose one (it applies from the next billing day)."""
    from livetape.errors import LivetapeError

    async def choose(b: Billing) -> Any:
        await b.require_app(app_id)
        if mode != "show":
            try:
                chosen = checked(mode, storage_gb, traffic_gb)
            except LivetapeError as exc:
                raise click.BadParameter(exc.detail or exc.kind.message) from exc
            await b.plans.choose(app_id, chosen, utc_today())
        return {"app_id": app_id, **(await b.plans.view(app_id, utc_today())).model_dump()}

    print_json(_run(data_dir, choose))


@billing.command("finalize")
@click.option("--through", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day to bill (UTC) [the last finished day].")
@DATA_DIR
def finalize(through: datetime | None, data_dir: str | None) -> None:
    """Bill every app's finished, unbilled days (safe to repeat: a day is billed once)."""
    if through is not None and through.date() >= utc_today():
        raise click.BadParameter("only finished days can be billed (before today, UTC)")

    async def run(b: Billing) -> Any:
        last = through.date() if through else last_finished_day(
            datetime.now(UTC), b.settings.billing_delay_seconds)
        return {"through": last.isoformat(), "bills_written": await b.biller.finalize(last)}

    print_json(_run(data_dir, run))


@billing.command("report")
@click.argument("app_id")
@click.option("--month", default=None, help="YYYY-MM (UTC) [this month].")
@DATA_DIR
def report(app_id: str, month: str | None, data_dir: str | None) -> None:
    """Print APP_ID's bill for a month: one row per day, estimates for days not billed yet."""
    try:
        first, month_end = month_span(month)
    except ValueError as exc:
        raise click.BadParameter(f"--month must be YYYY-MM, not {month!r}") from exc
    last = min(month_end, utc_today())

    async def gather(b: Billing) -> tuple[list[dict[str, Any]], str]:
        await b.require_app(app_id)
        days = await b.biller.statement(app_id, first, last) if first <= last else []
        return [d.model_dump() for d in days], to_cny(await b.balances.balance(app_id))

    days, balance = _run(data_dir, gather)
    click.echo(render(app_id, first, days, balance))


def render(app_id: str, first: date, days: list[dict[str, Any]], balance: str) -> str:
    rows = []
    for d in days:
        minutes = sum(d["transcode_minutes"].values())
        rows.append([d["day"], d["mode"], f"{d['storage_peak_bytes'] / GB:.3f}",
                     f"{d['traffic_bytes'] / GB:.3f}", f"{minutes:.2f}", d["cost"],
                     "billed" if d["billed"] else "estimate"])
    total = sum((Decimal(d["cost"]) for d in days), Decimal(0))
    billed = sum((Decimal(d["cost"]) for d in days if d["billed"]), Decimal(0))
    rows.append(["total", "", "", "", "", f"{total:.6f}", f"billed {billed:.6f}"])
    table = tabulate(rows, headers=["day", "mode", "storage GB", "traffic GB",
                                    "transcode min", "cost CNY", ""],
                     disable_numparse=True, colalign=("left", "left", "right", "right",
                                                      "right", "right", "left"))
    return (f"livetape bill: app {app_id}, {first.isoformat()[:7]} (UTC days, CNY)\n\n"
            f"{table}\n\nbalance: {balance} CNY")
