"""Flash groups: created with their terms, ended by ExpireFlashGroups with one farewell, then dissolved.

The ending of one group, step by step (each step can be repeated; a run that stops anywhere is finished by the
next run, which finds the group through the `due` index again, since its keys only move at the end of a step):

1. `active`, due at `ends_at`: the top members and the lifetime figures are computed and stored with the flash group,
   the group is marked `ended` (it leaves the slot indexes: no brief is dispatched to it any more), ONE farewell
   message (kind `farewell`) is queued for SendPushes, and the flash group's state becomes `ended`, due again
   `RECHECK` later. Queuing twice after a crash is harmless: the farewell's delivery record (group, local date of
   `ends_at`, push `farewell`) lets SendPushes deliver it once.
2. `ended`: the job reads the farewell's delivery record. Final (sent, skipped, failed, or `awaiting_owner` for a
   WeCom customer group: the mass-send task is handed to its owner, which is as far as qunyun can take it), the
   group and its flash state become `dissolved` and the figures are completed with its pushes; the due keys go.
   Still planned: due again `RECHECK` later. No record at all (the message was lost): the farewell is queued
   again, which is as harmless as above.

Every later push is cancelled because SendPushes refuses briefs to a group that is not active (`group_ended`),
and the only push a flash group gets after its end is this farewell.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from qunyun.adapters.flash import FlashRepository, StoredFlash
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.ledger_reads import earner, nicknames, whole_entries
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import SecretStore
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.briefs import member_name
from qunyun.domain.deliveries import Status as DeliveryStatus
from qunyun.domain.errors import NotFound
from qunyun.domain.flash import FlashGroup, State, Terms
from qunyun.domain.groups import Channel, Group, Status
from qunyun.domain.push_messages import FarewellMessage
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.services.boards import ranked
from qunyun.services.delivery_ports import DeliveryLog
from qunyun.services.groups import import_rows, require_tenant

RECHECK = timedelta(minutes=5)
FINAL = frozenset({DeliveryStatus.sent, DeliveryStatus.skipped, DeliveryStatus.failed, DeliveryStatus.awaiting_owner})


# ---- creating ------------------------------------------------------------------------------------------------

def create_flash_groups(tenant: Tenant, checked: list[FlashGroup], *, groups: GroupRepository, secrets: SecretStore,
                        flash: FlashRepository, now: datetime) -> dict:
    """Imports the groups (credentials to the secret store) and stores each one's terms and end. A group that has
    ended already keeps its status and its terms."""
    report = import_rows(tenant, [c.row for c in checked], groups=groups, secrets=secrets, flash=None)
    kept = []
    for c in checked:
        if not flash.upsert(tenant.tenant_id, c.row.group_id, c.row.ends_at, c.terms.model_dump(mode="json"), now):
            kept.append(c.row.group_id)
    return {"created": report.created, "updated": report.updated, "secrets_stored": report.secrets_stored,
            "ended_kept": kept}


# ---- figures -------------------------------------------------------------------------------------------------

def lifetime_days(group: Group, ends_at: datetime, timezone: str) -> list[date]:
    """The program days (the tenant's local dates, as points entries are indexed) from creation to end."""
    zone = ZoneInfo(timezone)
    first, last = group.created_at.astimezone(zone).date(), ends_at.astimezone(zone).date()
    first = min(first, last)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass
class Earnings:
    points: Counter  # member → net points earned in the group
    entries: list  # the group's earning entries (keys, group_id and points, from the day pages)


def group_earnings(ledger: PointsLedger, tenant: Tenant, group: Group, ends_at: datetime) -> Earnings:
    """What members earned in the group over its lifetime, from the day pages: one query per day of the
    group's life (reading every earning entry of the tenant that day, of any group), so the cost grows with the
    tenant's earning entries over those days, not with its members or the whole ledger."""
    points, entries = Counter(), []
    for day in lifetime_days(group, ends_at, tenant.timezone):
        for entry in ledger.board_entries(tenant.tenant_id, str(day)):
            if entry.group_id == group.group_id:
                points[earner(entry)] += int(entry.points)
                entries.append(entry)
    return Earnings(points, entries)


def lifetime_figures(ledger: PointsLedger, tenant: Tenant, group: Group, ends_at: datetime,
                     earnings: Earnings) -> dict:
    """The figures README "Flash groups" defines: members, check-ins, points earned, purchases, redemptions.
    Costs one BatchGetItem per 100 of the group's earning entries (their type), one GetItem per purchase (its
    amount) and one Query per member (their redemptions during the group's life)."""
    full = whole_entries(ledger, earnings.entries)
    checkins = sum(1 for e in full if e.source_type == "checkin")
    orders = [ledger.order(tenant.tenant_id, e.source_id) for e in full if e.source_type == "purchase"]
    members = sorted(m for m, p in earnings.points.items() if p > 0)
    start, end = group.created_at, ends_at
    redemptions = 0
    for member in members:
        redemptions += sum(1 for e in ledger.entries_between(tenant.tenant_id, member, start, end)
                           if e.source_type == "redemption" and e.kind == "spend")
    return {
        "members": len(members),
        "checkins": checkins,
        "points_earned": sum(int(e.points) for e in earnings.entries),
        "redemptions": redemptions,
        "purchases": len([o for o in orders if o is not None]),
        "purchase_amount_fen": sum(int(o.amount_fen) for o in orders if o is not None),
        "from": start.astimezone(UTC).isoformat(), "until": end.astimezone(UTC).isoformat(),
    }


def push_figures(deliveries: DeliveryLog, group: Group, until: date) -> dict:
    """The group's delivery records by status (briefs, farewell) of the 400 days up to `until`, its farewell's
    date (a flash group lives days or weeks): sent, awaiting_owner, skipped, failed."""
    counts = Counter(r.status.value for r in deliveries.of_group(
        group.tenant_id, group.group_id, limit=1000, since=until - timedelta(days=400), until=until))
    return {s: counts.get(s, 0) for s in ("sent", "awaiting_owner", "skipped", "failed")}


# ---- ending --------------------------------------------------------------------------------------------------

@dataclass
class ExpireDeps:
    flash: FlashRepository
    groups: GroupRepository
    tenants: TenantRepository
    deliveries: DeliveryLog
    ledger: PointsLedger
    queue: object  # PushQueue: send(pushes)


def farewell_day(group: Group, ends_at: datetime, tenant: Tenant) -> date:
    """The local date (the group's timezone) the farewell is planned on: that of `ends_at`, whenever the job
    runs, so every run and retry finds the same delivery record."""
    return ends_at.astimezone(ZoneInfo(group.effective_timezone(tenant.timezone))).date()


def farewell_message(tenant: Tenant, group: Group, day: date) -> FarewellMessage:
    # A customer group's farewell goes in its owner's mass-send task, as briefs do.
    owner = group.owner if group.channel is Channel.wecom_customer_group else None
    return FarewellMessage(tenant_id=tenant.tenant_id, date=day, group_ids=(group.group_id,), owner=owner)


def _named(ledger: PointsLedger, tenant_id: str, rows: list[dict]) -> list[dict]:
    """The invitation's top members with the nicknames they gave (briefs' rule: masked id when none)."""
    names = nicknames(ledger, tenant_id, [r["member_id"] for r in rows])
    return [{**r, "name": member_name(names[r["member_id"]], r["member_id"])} for r in rows]


def end_group(item: StoredFlash, tenant: Tenant, group: Group, deps: ExpireDeps, now: datetime) -> None:
    ends_at = item.ends_at
    terms = Terms.model_validate(item.terms or {})
    _, invite = terms.resolved(tenant)
    earnings = group_earnings(deps.ledger, tenant, group, ends_at)
    top = _named(deps.ledger, tenant.tenant_id, ranked(earnings.points, invite["top"])) if invite else []
    figures = lifetime_figures(deps.ledger, tenant, group, ends_at, earnings)
    day = farewell_day(group, ends_at, tenant)
    owner = group.owner if group.channel is Channel.wecom_customer_group else None
    deps.flash.prepare_end(item, str(day), top, owner, figures, now)
    if group.status is Status.active:
        deps.groups.set_status(tenant.tenant_id, group.group_id, Status.ended, now)
    deps.queue.send([farewell_message(tenant, group, day)])
    deps.flash.mark_ended(item, now + RECHECK, now)


def check_farewell(item: StoredFlash, tenant: Tenant, group: Group, deps: ExpireDeps, now: datetime) -> str:
    day = date.fromisoformat(item.farewell_date)
    record = deps.deliveries.get(tenant.tenant_id, group.group_id, day, Push.farewell().push_id)
    if record is None:
        deps.queue.send([farewell_message(tenant, group, day)])
    if record is None or record.status not in FINAL:
        deps.flash.recheck(item, now + RECHECK, now)
        return "waiting"
    report = {**(item.report or {}), "pushes": push_figures(deps.deliveries, group, day),
              "farewell": record.status.value}
    deps.groups.set_status(tenant.tenant_id, group.group_id, Status.dissolved, now)
    deps.flash.mark_dissolved(item, report, now)
    return "dissolved"


def expire(now: datetime, deps: ExpireDeps) -> dict:
    """One run of ExpireFlashGroups as at `now` (its scheduled time)."""
    summary = Counter(ended=0, dissolved=0, waiting=0, missing=0)
    tenants: dict[str, Tenant | None] = {}
    for item in deps.flash.due(now):
        tenant_id = item.tenant_id
        if tenant_id not in tenants:
            tenants[tenant_id] = deps.tenants.get(tenant_id)
        tenant, group = tenants[tenant_id], deps.groups.get(tenant_id, item.group_id)
        if tenant is None or group is None:
            deps.flash.drop_due(item, now)
            summary["missing"] += 1
            continue
        if item.state == State.active:
            end_group(item, tenant, group, deps, now)
            summary["ended"] += 1
        elif item.state == State.ended:
            summary[check_farewell(item, tenant, group, deps, now)] += 1
    return dict(summary)


# ---- reading -------------------------------------------------------------------------------------------------

def flash_report(tenant_id: str, group_id: str, *, tenants: TenantRepository, flash: FlashRepository) -> dict:
    require_tenant(tenant_id, tenants)
    item = flash.find(tenant_id, group_id)
    if item is None:
        raise NotFound(f"Tenant {tenant_id!r} has no flash group {group_id!r}.", code="unknown_flash_group")
    return {"group_id": group_id, "state": item.state, "ends_at": item.ends_at.isoformat(),
            "ended_at": item.ended_at.isoformat() if item.ended_at else None,
            "dissolved_at": item.dissolved_at.isoformat() if item.dissolved_at else None,
            "owner_must_dismiss": item.owner_must_dismiss, "top": item.top or [], "terms": item.terms,
            "figures": item.report}
