"""SweepInactive: once a week, in each tenant's own calendar, each group's silent members (domain/sweep.py)
listed as evidence (mode `report`) or, in mode `remove`, the tenant's notice posted and at most `max_per_run`
removed through the guard's actions and tasks (services/guard.py).

A group's run is stored under its week before anything is done, and a rerun of the week works from the stored
run: what it lists does not change, and each removal, written as intended first, is never attempted twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from qunyun.domain.activity import member_activity
from qunyun.domain.connections import CHANNELS
from qunyun.domain.guard import Action, action_id
from qunyun.domain.guard_rules import GuardSection, SweepSection
from qunyun.domain.roster import RosterEntry
from qunyun.domain.sweep import UNSEEN, silent_members, week_of
from qunyun.services.guard import GuardDeps, act, remove

logger = logging.getLogger(__name__)
PLATFORM_OF = {channel: platform for platform, channels in CHANNELS.items() for channel in channels}


class SweepRuns(Protocol):
    def get(self, tenant_id: str, week: str, group_id: str) -> dict | None: ...
    def of_week(self, tenant_id: str, week: str) -> dict[str, dict]: ...
    def add(self, tenant_id: str, week: str, group_id: str, run: dict) -> dict: ...
    def latest(self, tenant_id: str) -> list[dict]: ...


class GroupList(Protocol):
    def list(self, tenant_id: str) -> Iterable: ...


class RosterRead(Protocol):
    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]: ...


class ActivityRead(Protocol):
    def read(self, tenant_id: str, group_id: str, first, last) -> tuple[dict, dict]: ...


@dataclass(frozen=True)
class SweepDeps:
    tenants: Callable[[], list[str]]
    timezone: Callable[[str], str]
    groups: GroupList
    roster: RosterRead
    activity: ActivityRead
    runs: SweepRuns
    guard: GuardDeps  # its rules, log, platforms, groups and top members


def sweep_all(now: datetime, deps: SweepDeps) -> dict:
    summary = {"groups": 0, "listed": 0, "removals": 0, "failed": 0}
    for tenant_id in deps.tenants():
        rules, version = deps.guard.rules.rules(tenant_id)
        if version == 0:  # no group rules set: the sweep, like the guard, is off
            continue
        made = _made(tenant_id, deps.runs)
        for group in deps.groups.list(tenant_id):
            if group.channel not in PLATFORM_OF:
                continue
            try:
                guard, sweep = rules.for_group(str(group.kind), group.tags)
                run = sweep_group(tenant_id, group, guard, sweep, now, deps, made)
                summary["groups"] += 1
                summary["listed"] += len(run["members"])
                summary["removals"] += sum(1 for r in run["members"] if r["outcome"] == "remove")
            except Exception:
                logger.exception("a group could not be swept")
                summary["failed"] += 1
    return summary


def _made(tenant_id: str, runs: SweepRuns) -> Callable[[str, str], dict | None]:
    """A group's run of a week if made already: the tenant's runs of the week read once (one Query), not a read
    a group."""
    weeks: dict[str, dict[str, dict]] = {}

    def made(week: str, group_id: str) -> dict | None:
        if week not in weeks:
            weeks[week] = runs.of_week(tenant_id, week)
        return weeks[week].get(group_id)

    return made


def sweep_group(tenant_id: str, group, guard: GuardSection, sweep: SweepSection, now: datetime,
                deps: SweepDeps, made: Callable[[str, str], dict | None] | None = None) -> dict:
    """The group's run of the week (stored first, or found stored: `made`, else its own read), and its removals
    where mode is remove."""
    today = now.astimezone(ZoneInfo(group.timezone or deps.timezone(tenant_id))).date()
    week = week_of(today)
    run = made(week, group.group_id) if made is not None else deps.runs.get(tenant_id, week, group.group_id)
    if run is None:
        run = deps.runs.add(tenant_id, week, group.group_id, _run(tenant_id, group, guard, sweep, now, today, deps))
    if run["mode"] == "remove" and any(r["outcome"] == "remove" for r in run["members"]):
        _remove(tenant_id, group, run, now, sweep.notice, deps.guard)
    return run


def _run(tenant_id: str, group, guard: GuardSection, sweep: SweepSection, now: datetime, today, deps: SweepDeps
         ) -> dict:
    platform = PLATFORM_OF[group.channel]
    base = {"group_id": group.group_id, "platform": platform, "week": week_of(today), "mode": sweep.mode,
            "ran_at": now.isoformat(), "members": [], "skipped": UNSEEN.get(platform)}
    if platform in UNSEEN:
        return base
    days, _ = deps.activity.read(tenant_id, group.group_id, today - timedelta(days=29), today)  # one Query
    activity = member_activity(days, today)
    exempt = set(guard.exempt.members)
    if "owner" in guard.exempt.roles and group.owner:
        exempt.add(f"{platform}:{group.owner}")
    if guard.exempt.top_points:
        exempt |= deps.guard.top_members(tenant_id, guard.exempt.top_points)
    silent = silent_members(deps.roster.entries(tenant_id, group.group_id), activity, now, sweep, exempt)
    rows = []
    for i, s in enumerate(silent):
        row = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(s).items()}
        row["outcome"] = "remove" if sweep.mode == "remove" and i < sweep.max_per_run else "reported"
        rows.append(row)
    return base | {"members": rows}


def _remove(tenant_id: str, group, run: dict, now: datetime, notice: str, deps: GuardDeps) -> None:
    target = deps.groups(tenant_id, group.group_id)
    if target is None:
        return
    week, platform = run["week"], run["platform"]

    def action(kind: str, member_id: str, evidence: str) -> Action:
        return Action(tenant_id, action_id(kind, group.group_id, member_id, f"sweep-{week}"), kind, group.group_id,
                      platform, group.chat_id or "", member_id, f"sweep-{week}", "inactive", now, evidence=evidence)

    # The notice first, once a week: members read why before anyone is removed.
    act(action("warn", "all", notice), lambda: deps.platforms.post(target, notice), deps)
    for row in run["members"]:
        if row["outcome"] == "remove":
            evidence = f"{row['why']}; last message {row['last_message_at'] or 'none'}, " \
                       f"{row['messages_30d']} in 30 days"
            remove(action("remove", row["member_id"], evidence), target, deps)


def sweep_list(tenant_id: str, group_id: str | None, *, runs: SweepRuns, log) -> list[dict]:
    """The latest run of each group (or of one), each removal with its status from the guard's log."""
    out = []
    for run in sorted(runs.latest(tenant_id), key=lambda r: r["group_id"]):
        if group_id is not None and run["group_id"] != group_id:
            continue
        for row in run["members"]:
            if row["outcome"] == "remove":
                found = log.action(tenant_id, action_id("remove", run["group_id"], row["member_id"],
                                                        f"sweep-{run['week']}"))
                row["removal"] = found.status if found else "not yet"
        out.append(run)
    return out
