"""The metrics a scope's figures are read from (API.md §8, docs/metrics.md): what `GET /v1/metrics`, `qunyun
metrics` and the console show, all from the days RollupMetrics closed."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from qunyun.domain.metrics import (
    DayFigures,
    GroupLabel,
    Scope,
    check_range,
    days,
    leave_rate,
    total,
    window_view,
)


class MetricsReads(Protocol):
    def scope_days(self, tenant_id: str, scope: str, start: date, end: date) -> dict[date, DayFigures]: ...
    def group_days(self, tenant_id: str, group_id: str, start: date, end: date) -> dict[date, DayFigures]: ...
    def groups_on(self, tenant_id: str, day: date) -> list[tuple[GroupLabel, DayFigures]]: ...
    def closed_through(self, tenant_id: str) -> date | None: ...


def _closed_days(reads: MetricsReads, tenant_id: str, start: date, end: date) -> list[date]:
    closed = reads.closed_through(tenant_id)
    return [] if closed is None else days(start, min(end, closed))


def metrics_report(reads: MetricsReads, tenant_id: str, scope: str, start: date, end: date) -> dict:
    """A scope's closed days from start to end and their total, in the API.md §8 shape. A closed day the scope
    has no row for (a store with no group yet) reads as zeros; days not closed yet are left out."""
    parsed = Scope.parse(scope)
    check_range(start, end)
    wanted = _closed_days(reads, tenant_id, start, end)
    found = {}
    if wanted:
        first, last = wanted[0], wanted[-1]
        found = (reads.group_days(tenant_id, parsed.id, first, last) if parsed.kind == "group"
                 else reads.scope_days(tenant_id, str(parsed), first, last))
    rows = [(d, found.get(d) or DayFigures()) for d in wanted]
    return {"scope": str(parsed), "from": start.isoformat(), "to": end.isoformat(),
            "days": [{"date": d.isoformat(), **f.view()} for d, f in rows],
            "total": window_view([f for _, f in rows])}


def group_table(reads: MetricsReads, tenant_id: str, day_from: date, day_to: date) -> list[dict]:
    """Each group with rows in the window, by group id: as it was last closed (name, kind, tags, store, rep),
    its members at the window's end, and its active and leave rates over the window (docs/metrics.md)."""
    check_range(day_from, day_to)
    by_group: dict[str, tuple[GroupLabel, list[DayFigures]]] = {}
    for d in _closed_days(reads, tenant_id, day_from, day_to):
        for label, figures in reads.groups_on(tenant_id, d):
            by_group[label.group_id] = (label, [*by_group.get(label.group_id, (label, []))[1], figures])
    out = []
    for group_id in sorted(by_group):
        label, rows = by_group[group_id]
        summed, rate = total(rows)
        out.append({"group_id": group_id, "name": label.name, "kind": label.kind, "tags": list(label.tags),
                    "store": label.store, "rep": label.rep, "members": summed.members, "active_rate": rate,
                    "leave_rate": leave_rate(summed.members, summed.leaves), "joins": sum(summed.joins.values()),
                    "leaves": summed.leaves, "messages": summed.messages, "checkins": summed.checkins,
                    "activity_source": summed.activity_source, "quota_left": summed.quota_left, "days": len(rows)})
    return out
