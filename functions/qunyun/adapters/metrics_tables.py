"""PynamoDB models of the metrics table: what RollupMetrics closed of each local day.

    pk                          sk              item
    {tenant}#GD#{date}          {group}         GroupDayItem: one group's day, and the group as it was then
    {tenant}#SD#{scope}         {date}          ScopeDayItem: the sum of a scope's groups' day (tenant, store:ID,
                                                rep:ID, kind:KIND)
    {tenant}#CLOSED             DAY             ClosedItem: the last day closed

A day's group rows share a partition, so the groups page reads a day's groups in one Query; a scope's days share
one, so any window of a scope (7, 30, 90 days, or up to 400) is one Query of small items (docs/metrics.md)."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, UnicodeAttribute, UTCDateTimeAttribute

from qunyun.adapters.tables import _Keyed, _Meta, _settings


class _MetricsItem(_Keyed):
    class Meta(_Meta):
        table_name = _settings.table("metrics")


class GroupDayItem(_MetricsItem):
    class Meta(_MetricsItem.Meta):
        pass

    figures = UnicodeAttribute()  # domain/metrics.py DayFigures as compact JSON
    name = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    store = UnicodeAttribute(null=True)
    sales_rep = UnicodeAttribute(null=True)
    closed_at = UTCDateTimeAttribute()


class ScopeDayItem(_MetricsItem):
    class Meta(_MetricsItem.Meta):
        pass

    figures = UnicodeAttribute()
    closed_at = UTCDateTimeAttribute()


class ClosedItem(_MetricsItem):
    class Meta(_MetricsItem.Meta):
        pass

    day = UnicodeAttribute()
    closed_at = UTCDateTimeAttribute()
