"""The console's figures that come from the daily rollups (docs/metrics.md): a group's active and leave rate
in the groups table, and its 30-day charts. They are behind this one port so the pages work before the rollups
exist: `NoRollups` answers None and the pages say the figures are not available yet.

Wiring, once `qunyun.services.metrics` is there: a `MetricsRollups(reads)` whose `group_table` returns
`metrics.group_table(reads, tenant_id, day_from, day_to)` and whose `group_days` returns
`metrics.metrics_report(reads, tenant_id, f"group:{group_id}", start, end)["days"]`, handed to the console's
deps in functions/console.py instead of `NoRollups()`."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from qunyun.domain.charts import Series, line_chart

CHART_DAYS = 30


class Rollups(Protocol):
    def group_table(self, tenant_id: str, day_from: date, day_to: date) -> list[dict] | None:
        """One row per group with at least `group_id`, `active_rate` and `leave_rate` (fractions), or None."""

    def group_days(self, tenant_id: str, group_id: str, start: date, end: date) -> list[dict] | None:
        """The group's days as API.md §8 `days` rows, or None."""


class NoRollups:
    """Before the rollups are wired: no figures, and the pages say so."""

    def group_table(self, tenant_id: str, day_from: date, day_to: date) -> list[dict] | None:
        return None

    def group_days(self, tenant_id: str, group_id: str, start: date, end: date) -> list[dict] | None:
        return None


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
    charts = []
    for title, fields, percent in CHARTS:
        series = [Series(text(name), [d.get(field) for d in days]) for name, field in fields]
        charts.append({"title": text(title), "svg": line_chart(dates, series, title=text(title), percent=percent)})
    return charts
