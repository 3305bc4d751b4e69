"""`qunyun metrics`: a scope's figures by day and in total, as `GET /v1/metrics` gives them (docs/metrics.md)."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import typer

from qunyun_ops.cli import stores
from qunyun_ops.cli.output import (
    JsonOption,
    LocalOption,
    TenantOption,
    connect,
    print_json,
    print_table,
    reporting_errors,
)

COLUMNS = ("date", "members", "joins", "leaves", "removed", "leave_rate", "active_members", "active_rate",
           "activity_source", "messages", "checkins", "points_earned", "redemptions", "buyers", "conversion_rate",
           "sent", "skipped", "failed", "awaiting_owner")


def _day(text: str | None, option: str) -> date | None:
    from qunyun.domain.errors import InvalidRequest

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{option} {text!r} is not a date; write YYYY-MM-DD.", field=option) from None


def _row(day: dict) -> list:
    return [day.get(c, day["pushes"].get(c)) for c in COLUMNS]


def metrics(tenant: str = TenantOption,
            scope: str = typer.Option("tenant", "--scope", help="tenant, group:ID, store:ID, rep:ID or kind:KIND."),
            start: str = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: 30 days before --to)."),
            end: str = typer.Option(None, "--to", help="Last day, YYYY-MM-DD (default: yesterday; at most 400 days)."),
            json_: bool = JsonOption, csv_: bool = typer.Option(False, "--csv", help="Print CSV, a row a day."),
            local: bool = LocalOption) -> None:
    """A scope's figures by day and in total: members, joins, leaves, activity, check-ins, points, buyers, pushes."""
    if json_ and csv_:
        raise typer.BadParameter("choose one of --json and --csv.")
    connect(local)
    from qunyun.adapters.metrics_store import MetricsStore
    from qunyun.domain.metrics import default_range
    from qunyun.services.metrics import metrics_report

    with reporting_errors():
        found = stores.tenant(tenant)
        today = datetime.now(UTC).astimezone(ZoneInfo(found.timezone)).date()
        first, last = default_range(_day(start, "--from"), _day(end, "--to"), today)
        report = metrics_report(MetricsStore(), tenant, scope, first, last)
    if json_:
        print_json(report)
    elif csv_:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(_row(d) for d in [*report["days"], {**report["total"], "date": "total"}])
    else:
        rows = [_row(d) for d in [*report["days"], {**report["total"], "date": "total"}]]
        print_table(f"{report['scope']} of {tenant}, {report['from']} to {report['to']} "
                    f"({len(report['days'])} days closed)", COLUMNS, rows)
