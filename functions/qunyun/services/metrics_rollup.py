"""RollupMetrics: every hour, each tenant's local days that have ended are closed into figures (docs/metrics.md).

A day is closed once it has ended in the tenant's timezone and in every timezone its groups live in. Closing
reads what qunyun recorded of the day (rosters, activity pages, the ledger's day pages, delivery records, WeCom
quota counters and, per customer-group owner, WeCom's statistics) and puts one row per group and one per scope;
closing it again puts the same rows with the same figures, so a rerun, or a day closed twice, changes nothing."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from qunyun.domain.activity import Sent
from qunyun.domain.groups import Group
from qunyun.domain.links import credited
from qunyun.domain.metrics import DayFigures, GroupLabel, scope_sums
from qunyun.domain.metrics_day import (
    Earning,
    GroupSources,
    OwnerDay,
    bounds,
    credited_days,
    group_day,
    member_at,
    shared_statistic,
    split,
    with_statistic,
)
from qunyun.domain.quota import local_day, period_key, quota_limit
from qunyun.domain.roster import RosterEntry
from qunyun.domain.tenants import Tenant

logger = logging.getLogger(__name__)
CATCH_UP_DAYS = 7  # a tenant whose runs stopped for longer gets its last week closed, not every missed day


class MetricsSources(Protocol):
    def earnings_on(self, tenant_id: str, day: date, timezone: str) -> list[Earning]: ...
    def redemptions_on(self, tenant_id: str, day: date) -> dict[str, int]: ...
    def pushes_on(self, tenant_id: str, day: date) -> dict[str, list[tuple[str, str | None]]]: ...
    def quota_spent(self, tenant_id: str, group_ids: Iterable[str], day: date, period_key: str) -> dict[str, int]: ...


class TenantRead(Protocol):
    def ids(self) -> list[str]: ...
    def get(self, tenant_id: str) -> Tenant | None: ...


class GroupList(Protocol):
    def list(self, tenant_id: str) -> Iterable[Group]: ...


class RosterRead(Protocol):
    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]: ...


class ActivityRead(Protocol):
    def read(self, tenant_id: str, group_id: str, first: date, last: date
             ) -> tuple[dict[date, list[Sent]], dict[str, str]]: ...


class MetricsWrites(Protocol):
    def put_day(self, tenant_id: str, day: date, groups, scopes: dict[str, DayFigures], now: datetime) -> int: ...
    def closed_through(self, tenant_id: str) -> date | None: ...
    def set_closed(self, tenant_id: str, day: date, now: datetime) -> None: ...


@dataclass(frozen=True)
class RollupDeps:
    tenants: TenantRead
    groups: GroupList
    roster: RosterRead
    activity: ActivityRead
    sources: MetricsSources
    statistics: Callable[[str, str, date], OwnerDay | None]  # (tenant, owner, day) → WeCom's owner day
    store: MetricsWrites


def rollup(now: datetime, deps: RollupDeps) -> dict:
    """Closes each tenant's ended days not closed yet (at most the last CATCH_UP_DAYS)."""
    summary = {"tenants": 0, "days": 0, "groups": 0, "failed": 0}
    for tenant_id in deps.tenants.ids():
        try:
            tenant = deps.tenants.get(tenant_id)
            if tenant is None:  # removed since the listing
                continue
            groups = list(deps.groups.list(tenant_id))
            zones = {tenant.timezone, *(g.timezone for g in groups if g.timezone)}
            last = min(local_day(now, z) for z in zones) - timedelta(days=1)
            closed = deps.store.closed_through(tenant_id)
            first = max(closed + timedelta(days=1) if closed else last, last - timedelta(days=CATCH_UP_DAYS - 1))
            for n in range((last - first).days + 1):
                summary["groups"] += close_day(tenant, first + timedelta(days=n), deps, now, groups)
                summary["days"] += 1
            if first <= last:
                deps.store.set_closed(tenant_id, last, now)
            summary["tenants"] += 1
        except Exception:
            logger.exception("a tenant's metrics could not be rolled up", extra={"tenant_id": tenant_id})
            summary["failed"] += 1
    return summary


def close_day(tenant: Tenant, day: date, deps: RollupDeps, now: datetime, groups: list | None = None) -> int:
    """Puts the day's row of every group (a group imported later may have had members and activity before) and
    of every scope; returns the groups."""
    tid = tenant.tenant_id
    groups = list(deps.groups.list(tid)) if groups is None else groups
    earnings, redeemed = defaultdict(list), deps.sources.redemptions_on(tid, day)
    for e in deps.sources.earnings_on(tid, day, tenant.timezone):
        earnings[e.group_id].append(e)
    pushes = deps.sources.pushes_on(tid, day)
    customer = [g for g in groups if g.channel == "wecom_customer_group"]
    period = period_key(tenant.policy.quota_period, day)
    spent = deps.sources.quota_spent(tid, [g.group_id for g in customer], day, period) if customer else {}
    limit = quota_limit(tenant.policy.quota_period, day)
    rows: dict[str, tuple[GroupLabel, DayFigures]] = {}
    credited_parts: dict[str, dict] = {}
    for g in groups:
        tz = g.timezone or tenant.timezone
        _, end = bounds(day, tz)
        roster = deps.roster.entries(tid, g.group_id)
        sent = deps.activity.read(tid, g.group_id, day, day)[0].get(day, [])
        members = [e.member_id for e in roster if member_at(e, end)]
        src = GroupSources(g.channel, tz, roster, sent, earnings.get(g.group_id, []), pushes.get(g.group_id, []),
                           redemptions=sum(redeemed.get(m, 0) for m in members),
                           quota=(spent.get(g.group_id, 0), limit) if g.channel == "wecom_customer_group" else None)
        rows[g.group_id] = (GroupLabel(g.group_id, g.name, str(g.kind), tuple(g.tags), g.store, g.sales_rep),
                            group_day(day, src))
        parts = credited_days(day, src, (g.store, g.sales_rep),
                              lambda e, g=g: credited(e.link_for, g.store, g.sales_rep), redeemed)
        if parts is not None:
            credited_parts[g.group_id] = parts
    _owner_statistics(tid, day, [g for g in customer if g.group_id in rows and g.owner], rows, deps)
    for group_id, parts in credited_parts.items():
        shared_statistic(rows[group_id][1], parts)
    deps.store.put_day(tid, day, rows.values(), scope_sums(rows.values(), credited_parts), now)
    return len(rows)


def _owner_statistics(tenant_id: str, day: date, customer: list, rows: dict, deps: RollupDeps) -> None:
    """Each owner's WeCom day shared over the owner's customer groups in proportion to their members."""
    by_owner: dict[str, list[str]] = defaultdict(list)
    for g in customer:
        by_owner[g.owner].append(g.group_id)
    for owner, group_ids in sorted(by_owner.items()):
        stats = deps.statistics(tenant_id, owner, day)
        if stats is None:
            continue
        weights = {g: rows[g][1].members for g in group_ids}
        active, messages = split(stats.member_has_msg, weights), split(stats.msg_total, weights)
        for g in group_ids:
            with_statistic(rows[g][1], active[g], messages[g])
