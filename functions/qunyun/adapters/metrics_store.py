"""The closed days of RollupMetrics in the metrics table (layout: adapters/metrics_tables.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime

from pynamodb.exceptions import PutError

from qunyun.adapters.metrics_tables import ClosedItem, GroupDayItem, ScopeDayItem
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.metrics import DayFigures, GroupLabel, days


def _group_pk(tenant_id: str, day: date) -> str:
    return f"{tenant_id}#GD#{day.isoformat()}"


def _scope_pk(tenant_id: str, scope: str) -> str:
    return f"{tenant_id}#SD#{scope}"


def _json(figures: DayFigures) -> str:
    return json.dumps(figures.stored(), separators=(",", ":"), sort_keys=True)


def _label(item: GroupDayItem) -> GroupLabel:
    return GroupLabel(item.sk, item.name, item.kind, tuple(item.tags or ()), item.store, item.sales_rep)


class MetricsStore:
    def put_day(self, tenant_id: str, day: date, groups: Iterable[tuple[GroupLabel, DayFigures]],
                scopes: dict[str, DayFigures], now: datetime) -> int:
        """Puts a day's group and scope rows (BatchWriteItem, 25 a request): closing the day again puts the same
        keys, so a rerun rewrites them. A scope row whose groups are gone is not removed (a rerun of a day only
        ever adds rows the same groups give)."""
        n = 0
        with GroupDayItem.batch_write() as batch:
            for label, figures in groups:
                batch.save(GroupDayItem(_group_pk(tenant_id, day), label.group_id, figures=_json(figures),
                                        name=label.name, kind=label.kind, tags=list(label.tags), store=label.store,
                                        sales_rep=label.rep, closed_at=now))
                n += 1
            for scope, figures in scopes.items():
                batch.save(ScopeDayItem(_scope_pk(tenant_id, scope), day.isoformat(), figures=_json(figures),
                                        closed_at=now))
                n += 1
        return n

    def scope_days(self, tenant_id: str, scope: str, start: date, end: date) -> dict[date, DayFigures]:
        """A tenant, store, rep or kind's closed days from start to end: one Query."""
        query = ScopeDayItem.query(_scope_pk(tenant_id, scope), ScopeDayItem.sk.between(start.isoformat(),
                                                                                          end.isoformat()))
        return {date.fromisoformat(i.sk): DayFigures.of(json.loads(i.figures)) for i in query}

    def group_days(self, tenant_id: str, group_id: str, start: date, end: date) -> dict[date, DayFigures]:
        """One group's closed days from start to end: its rows are keyed by day, 100 read to a BatchGetItem."""
        keys = [(_group_pk(tenant_id, d), group_id) for d in days(start, end)]
        return {date.fromisoformat(i.pk.rsplit("#", 1)[-1]): DayFigures.of(json.loads(i.figures))
                for i in GroupDayItem.batch_get(keys)}

    def groups_on(self, tenant_id: str, day: date) -> list[tuple[GroupLabel, DayFigures]]:
        """Every group's closed row of a day: one Query."""
        query = GroupDayItem.query(_group_pk(tenant_id, day))
        return [(_label(i), DayFigures.of(json.loads(i.figures))) for i in query]

    def closed_through(self, tenant_id: str) -> date | None:
        try:
            return date.fromisoformat(ClosedItem.get(f"{tenant_id}#CLOSED", "DAY").day)
        except ClosedItem.DoesNotExist:
            return None

    def set_closed(self, tenant_id: str, day: date, now: datetime) -> None:
        """Records the last day closed, never moving it back (a rerun of an earlier day leaves it)."""
        item = ClosedItem(f"{tenant_id}#CLOSED", "DAY", day=day.isoformat(), closed_at=now)
        try:
            item.save(condition=ClosedItem.day.does_not_exist() | (ClosedItem.day < day.isoformat()))
        except PutError as err:
            if not conditional_failed(err):  # a later day is recorded already
                raise
