"""The console's figures that come from the daily rollups (docs/metrics.md): a group's active and leave rate
in the groups table, and its 30-day charts, read from the days RollupMetrics closed through the same services
`GET /v1/metrics` answers from, so the console and the API show the same numbers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol

from qunyun.domain.charts import Series, line_chart
from qunyun.services.metrics import MetricsReads, group_table, metrics_report

CHART_DAYS = 30


class Rollups(Protocol):
    def group_table(self, tenant_id: str, day_from: date, day_to: date) -> list[dict]:
        """One row per group with closed days in the window: at least `group_id`, `active_rate` and
        `leave_rate` (fractions)."""

    def group_days(self, tenant_id: str, group_id: str, start: date, end: date) -> list[dict]:
        """The group's closed days as API.md §8 `days` rows (empty before any day is closed)."""

    def last_closed(self, tenant_id: str) -> date | None:
        """The last day RollupMetrics closed for the tenant."""


class MetricsRollups:
    """The rollups of the metrics table (adapters/metrics_store.py, or any `MetricsReads`)."""

    def __init__(self, reads: MetricsReads) -> None:
        self.reads = reads

    def group_table(self, tenant_id: str, day_from: date, day_to: date) -> list[dict]:
        return group_table(self.reads, tenant_id, day_from, day_to)

    def group_days(self, tenant_id: str, group_id: str, start: date, end: date) -> list[dict]:
        return metrics_report(self.reads, tenant_id, f"group:{group_id}", start, end)["days"]

    def last_closed(self, tenant_id: str) -> date | None:
        return self.reads.closed_through(tenant_id)


def window_end(today: date, last_closed: date | None) -> date:
    """The last day of the console's 30-day windows: yesterday, or today once it is closed (a rollup run as at
    its midnight, as the demo does, closes it ahead of its end)."""
    return today if last_closed is not None and last_closed >= today else today - timedelta(days=1)


# (message key of the chart's title, [(message key of a series, its field)], whether the values are fractions)
CHARTS = (
    ("chart_members", [("members", "members")], False),
    ("chart_joins_leaves", [("joins", "joins"), ("leaves", "leaves")], False),
    ("chart_active_rate", [("active_rate", "active_rate")], True),
    ("chart_messages", [("messages", "messages")], False),
    ("chart_checkins", [("checkins", "checkins")], False),
)


def group_charts(days: list[dict], text) -> list[dict]:
    """The group page's five charts (members, joins and leaves, active rate, messages, check-ins) as SVG, from
    §8 `days` rows; `text(key)` names titles and series in the page's language."""
    dates = [d["date"] for d in days]
    # Where the platform shows no messages the active rate counts check-ins (docs/metrics.md): its title says so.
    source = days[-1].get("activity_source", "messages") if days else "messages"
    charts = []
    for title, fields, percent in CHARTS:
        name = text(title) + (f" ({text('activity_by_' + source)})"
                              if title == "chart_active_rate" and source != "messages" else "")
        series = [Series(text(key), [d.get(field) for d in days]) for key, field in fields]
        charts.append({"title": name, "svg": line_chart(dates, series, title=name, percent=percent)})
    return charts
