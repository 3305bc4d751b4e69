"""What each console page shows, read through the services and repositories the CLI uses (`deliveries list`,
`members list`, `points top`, `rewards list`, `guard tasks`, `sweep list`, `flash report`). Every read is of the
session's tenant: a group of another tenant is not found."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from qunyun.domain.deliveries import Status
from qunyun.domain.errors import NotFound
from qunyun.domain.groups import Channel, Group, Kind
from qunyun.domain.quota import local_day, quota_limit
from qunyun.domain.tenants import Tenant
from qunyun.services.boards import leaderboard
from qunyun.services.console_rollups import CHART_DAYS, Rollups, group_charts, window_end
from qunyun.services.guard_ops import tasks
from qunyun.services.mall import list_rewards
from qunyun.services.quota import budget_of
from qunyun.services.roster_view import members
from qunyun.services.sweep import sweep_list

PUSHES, PUSH_DAYS = 50, 30  # the group page lists its latest 50 pushes, looked for in the last 30 days first
SORTABLE = ("group_id", "name", "kind", "members", "active_rate", "leave_rate", "last_brief", "quota_left")


class ConsoleDeps(Protocol):
    """The repositories the pages read (the CLI's own), the dead-letter counts and the rollups port; the Console
    makes each on its first use (adapters/console_deps.py)."""

    tenants: Any
    groups: Any
    deliveries: Any
    roster: Any
    activity: Any
    guard_log: Any
    sweep_runs: Any
    ledger: Any
    flash: Any
    reads: Any
    dead_letters: Any
    rollups: Rollups
    keys: Any


def today(tenant: Tenant, now: datetime, deps: ConsoleDeps) -> dict:
    """Pushes of the tenant's day by status and reason, owner tasks waiting, dead letters, broken channels."""
    day = local_day(now, tenant.timezone)
    records = deps.deliveries.on_day(tenant.tenant_id, day)
    by_status = Counter(r.status.value for r in records)
    reasons = Counter((r.status.value, r.reason or "-") for r in records
                      if r.status in (Status.skipped, Status.failed))
    names = {g.group_id: g.name for g in deps.groups.list(tenant.tenant_id)}
    broken = deps.reads.broken_channels(tenant.tenant_id)
    return {
        "day": day.isoformat(), "pushes": len(records),
        "by_status": [(s.value, by_status.get(s.value, 0)) for s in Status],
        "reasons": sorted(((s, r, n) for (s, r), n in reasons.items()), key=lambda x: (-x[2], x[0], x[1])),
        "owner_tasks": deps.reads.waiting_tasks(tenant.tenant_id),
        "dead_letters": sorted(deps.dead_letters.counts().items()),
        "broken": [(g, names.get(g, g), why) for g, why in sorted(broken.items())],
    }


def _last_briefs(tenant: Tenant, day: date, deps: ConsoleDeps) -> dict[str, tuple[str, str]]:
    """group_id → (date, status) of its latest brief from yesterday to tomorrow (the tenant's days; a group ahead of
    the tenant's timezone may be on tomorrow already): the later date, then the evening edition after the morning."""
    latest: dict[str, tuple[tuple, str, str]] = {}
    for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
        for r in deps.deliveries.on_day(tenant.tenant_id, d):
            order = (r.date, r.edition == "evening", r.updated_at)
            if r.kind == "brief" and (r.group_id not in latest or latest[r.group_id][0] <= order):
                latest[r.group_id] = (order, r.date.isoformat(), r.status.value)
    return {g: (d, s) for g, (_, d, s) in latest.items()}


def quota_left(tenant: Tenant, group: Group, now: datetime, deliveries: Any) -> int | None:
    """Mass sends the customer group has left in its WeCom quota period; None for other channels."""
    budget = budget_of(tenant, group)
    if group.channel is not Channel.wecom_customer_group or budget.quota_period is None:
        return None
    day = local_day(now, group.effective_timezone(tenant.timezone))
    spent = deliveries.spent(tenant.tenant_id, group.group_id, day, budget.period_of(day))
    return max(quota_limit(budget.quota_period, day) - spent.period, 0)


def roster_members(tenant_id: str, group_id: str, deps: ConsoleDeps) -> int:
    """Members on the group's roster now (joined and not left), the count both the table and the group page show."""
    return present(deps.roster.entries(tenant_id, group_id))


def present(entries: list) -> int:
    return sum(1 for e in entries if e.status == "member")


@dataclass(frozen=True)
class _Read:
    """A roster read once, handed to what lists it (the group page counts and lists the same entries)."""

    read: list

    def entries(self, tenant_id: str, group_id: str) -> list:
        return self.read


def _matches(group: Group, filters: dict[str, str]) -> bool:
    return ((not filters.get("kind") or group.kind.value == filters["kind"])
            and (not filters.get("tag") or filters["tag"] in group.tags)
            and (not filters.get("store") or group.store == filters["store"])
            and (not filters.get("rep") or group.sales_rep == filters["rep"]))


def groups_table(tenant: Tenant, now: datetime, deps: ConsoleDeps, sort: str = "group_id", descending: bool = False,
                 filters: dict[str, str] | None = None) -> dict:
    """One row per group (filtered by kind, tag, store, rep), sorted on any column; active and leave rate come
    from the rollups over the last 30 days, of the days closed (none before RollupMetrics closes the first)."""
    filters = filters or {}
    day = local_day(now, tenant.timezone)
    briefs = _last_briefs(tenant, day, deps)
    end = window_end(day, deps.rollups.last_closed(tenant.tenant_id))
    rates = deps.rollups.group_table(tenant.tenant_id, end - timedelta(days=CHART_DAYS - 1), end)
    by_group = {r["group_id"]: r for r in rates}
    rows = []
    for g in deps.groups.list(tenant.tenant_id):
        if not _matches(g, filters):
            continue
        rate = by_group.get(g.group_id, {})
        rows.append({"group_id": g.group_id, "name": g.name, "kind": g.kind.value, "channel": g.channel.value,
                     "store": g.store, "rep": g.sales_rep, "tags": g.tags,
                     "members": roster_members(tenant.tenant_id, g.group_id, deps),
                     "active_rate": rate.get("active_rate"), "leave_rate": rate.get("leave_rate"),
                     "last_brief": briefs.get(g.group_id), "quota_left": quota_left(tenant, g, now, deps.deliveries)})
    sort = sort if sort in SORTABLE else "group_id"
    # Rows without the figure go last whichever the direction.
    known = sorted((r for r in rows if r[sort] is not None), key=lambda r: (r[sort], r["group_id"]),
                   reverse=descending)
    return {"rows": known + [r for r in rows if r[sort] is None], "sort": sort, "descending": descending,
            "filters": filters, "rates_closed": bool(rates), "kinds": [k.value for k in Kind]}


def group_page(tenant: Tenant, group_id: str, now: datetime, deps: ConsoleDeps, text) -> dict:
    """A group of the tenant: its roster, its latest pushes, its 30-day charts up to yesterday, or up to today once
    today is closed (empty until a day of it is closed). Another tenant's group is not found."""
    group = deps.groups.get(tenant.tenant_id, group_id)
    if group is None:
        raise NotFound(f"There is no group {group_id!r}.", code="unknown_group")
    today_ = local_day(now, group.effective_timezone(tenant.timezone))
    # The report lists closed days only: asked up to today, it ends yesterday, or today once that is closed
    # (window_end), and the last CHART_DAYS of it are the window, with no read of the last closed day.
    days = deps.rollups.group_days(tenant.tenant_id, group_id, today_ - timedelta(days=CHART_DAYS),
                                   today_)[-CHART_DAYS:]
    roster = deps.roster.entries(tenant.tenant_id, group_id)
    return {"group": group, "day": today_.isoformat(), "member_count": present(roster),
            "members": members(tenant.tenant_id, group_id, today_, roster=_Read(roster), activity=deps.activity),
            "pushes": latest_pushes(deps.deliveries, tenant.tenant_id, group_id, today_),
            "quota_left": quota_left(tenant, group, now, deps.deliveries),
            "charts": group_charts(days, text) if days else [],
            "window": (days[0]["date"], days[-1]["date"]) if days else None,
            "today_closed": bool(days) and days[-1]["date"] == today_.isoformat()}


def latest_pushes(deliveries: Any, tenant_id: str, group_id: str, today: date, n: int = PUSHES) -> list:
    """The group's latest n delivery records up to its today, newest first. A group's days are read by date, 100
    to a request: the last PUSH_DAYS first (a group briefed twice a day fills the list from them), older ones only
    if those hold fewer than n. A record dated after today is a reminder rung skipped when it was planned, not a
    push yet: reading the year ahead it may lie in cost the page three requests of 100 empty days."""
    recent = list(deliveries.of_group(tenant_id, group_id, n, since=today - timedelta(days=PUSH_DAYS - 1),
                                      until=today))
    if len(recent) < n:
        recent += deliveries.of_group(tenant_id, group_id, n - len(recent), until=today - timedelta(days=PUSH_DAYS))
    return recent


def points_page(tenant: Tenant, now: datetime, deps: ConsoleDeps, period: str = "month", n: int = 20) -> dict:
    """The leaderboard of the period (top n), the mall's rewards with their stock, and orders whose fulfilment is
    due or was given up on."""
    from qunyun.services.fulfil import orders_by_state  # loads the groups' table: only this page needs it

    day = local_day(now, tenant.timezone)
    board = leaderboard(tenant.tenant_id, "tenant", period, day, n, ledger=deps.ledger, now=now)
    return {"day": day.isoformat(), "period": period, "n": n, "board": board,
            "rewards": list_rewards(tenant, ledger=deps.ledger, now=now),
            "orders_due": orders_by_state(tenant.tenant_id, "due", ledger=deps.ledger),
            "orders_parked": orders_by_state(tenant.tenant_id, "parked", ledger=deps.ledger)}


def guard_page(tenant: Tenant, deps: ConsoleDeps) -> dict:
    return {"tasks": tasks(tenant.tenant_id, log=deps.guard_log),
            "sweeps": sweep_list(tenant.tenant_id, None, runs=deps.sweep_runs, log=deps.guard_log)}


def flash_page(tenant: Tenant, deps: ConsoleDeps) -> dict:
    """Every flash group of the tenant with its report (state, end, figures, top members)."""
    from qunyun.services.flash import flash_report  # loads the points and groups' tables: only this page needs it

    reports = []
    for g in deps.groups.list(tenant.tenant_id):
        if g.kind is not Kind.flash:
            continue
        try:
            report = flash_report(tenant.tenant_id, g.group_id, tenants=deps.tenants, flash=deps.flash)
        except NotFound:
            report = {"group_id": g.group_id, "state": None, "figures": None, "top": []}
        reports.append({**report, "name": g.name})
    return {"reports": reports}
