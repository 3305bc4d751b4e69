"""SettlePoints: release pending points whose window ended, expire lots, build yesterday's boards.

Work is found through the `due` index (pending points by settle time, lots by expiry), never a Scan.
Each piece of work is one transaction conditioned on the member's version, and adds to the run's
counters in that same transaction, so a run stopped at any point and started again ends exactly as
one clean run would, with exact counts. A run whose checkpoint says done does nothing again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from qunyun.adapters.points_ledger import (
    DUE_SHARDS,
    Contention,
    PointsLedger,
    invite_key,
    member_key,
    member_pk,
    split_member_pk,
)
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.ledger import Entry, LotWrite, MemberChange, Plan, credit
from qunyun.domain.points import expires_at, is_expired
from qunyun.domain.tenants import Tenant
from qunyun.services.boards import boards_built, build_boards, built_mark

SUMMARY = ("settled", "points_released", "invites_released", "lots_expired", "points_expired", "boards_built")
BOARD_HOUR = 2  # boards of a day are built from 02:00 local the next day, once late events have arrived


@dataclass
class Run:
    pk: str
    ledger: PointsLedger
    tenants: TenantRepository
    now: datetime
    _cache: dict[str, Tenant]

    def tenant(self, tenant_id: str) -> Tenant | None:
        if tenant_id not in self._cache:
            self._cache[tenant_id] = self.tenants.get(tenant_id)
        return self._cache[tenant_id]


def _retry(work: Callable[[], None]) -> None:
    for attempt in range(25):
        try:
            return work()
        except Contention:
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise RuntimeError("settlement kept losing races for one member; it will be retried by the next run")


def _settle(run: Run, tenant: Tenant, member_id: str, lot_sk: str) -> None:
    ledger, now = run.ledger, run.now
    ledger.prefetch([member_key(tenant.tenant_id, member_id), (member_pk(tenant.tenant_id, member_id), lot_sk),
                     invite_key(tenant.tenant_id, member_id)])
    member = ledger.member(tenant.tenant_id, member_id)
    lot = ledger.lot(tenant.tenant_id, member_id, lot_sk)
    change = MemberChange(member)
    plan = Plan(changes=[change])
    if lot is None or lot.state != "pending" or lot.remaining <= 0 or not lot.settle_at:
        change.lots.append(LotWrite(lot_sk, clear_due=True))
        return ledger.commit(plan, now)
    if datetime.fromisoformat(lot.settle_at) > now:
        ledger.forget()
        return None  # the index said due but the item says later: leave it for its own run
    points, available_at = lot.remaining, datetime.fromisoformat(lot.settle_at)
    change.add("pending", -points)
    credit(change, points, expires_at(available_at, tenant.rules.expiry, tenant.timezone))
    change.lots.append(LotWrite.of(lot, add=-points, set={"state": "settled"}, clear_due=True))
    deltas = {k: v for k, v in change.deltas.items() if v}
    change.entries.append(Entry(f"settle#{lot.source_id}", "settle", "purchase", lot.source_id or "", "system",
                                points, deltas, group_id=lot.group_id))
    counters = {"settled": 1, "points_released": points}
    if not member.settled_purchase:
        change.set["settled_purchase"] = True
        counters["invites_released"] = _release_invite(plan, tenant, member_id, available_at, ledger)
    plan.job = (run.pk, "run", {k: v for k, v in counters.items() if v})
    ledger.commit(plan, now)


def _release_invite(plan: Plan, tenant: Tenant, invitee_id: str, at: datetime, ledger: PointsLedger) -> int:
    """The invitee's first settled purchase releases the inviter's pending invite points, in the same
    transaction, so the release happens exactly once."""
    invite = ledger.guard(*invite_key(tenant.tenant_id, invitee_id))
    if invite is None:
        # An invite arriving meanwhile must see this settlement or be seen by it: it may not slip in.
        plan.absent.append(invite_key(tenant.tenant_id, invitee_id))
        return 0
    if invite.state != "pending":
        return 0
    inviter = ledger.member(tenant.tenant_id, invite.inviter_id)
    lot = ledger.lot(tenant.tenant_id, invite.inviter_id, invite.lot_sk)
    plan.invite = {"invitee_id": invitee_id, "create": False, "set": {"state": "released"}}
    if lot is None or lot.state != "pending" or lot.remaining <= 0:
        return 0
    change = MemberChange(inviter)
    change.add("pending", -lot.remaining)
    credit(change, lot.remaining, expires_at(at, tenant.rules.expiry, tenant.timezone))
    change.lots.append(LotWrite.of(lot, add=-lot.remaining, set={"state": "settled"}))
    change.entries.append(Entry(f"release#{invitee_id}", "release", "invite", invitee_id, "system", lot.remaining,
                                {k: v for k, v in change.deltas.items() if v}, group_id=lot.group_id))
    plan.changes.append(change)
    return 1


def _expire(run: Run, tenant: Tenant, member_id: str, lot_sk: str) -> None:
    ledger, now = run.ledger, run.now
    ledger.prefetch([member_key(tenant.tenant_id, member_id), (member_pk(tenant.tenant_id, member_id), lot_sk)])
    member = ledger.member(tenant.tenant_id, member_id)
    lot = ledger.lot(tenant.tenant_id, member_id, lot_sk)
    change = MemberChange(member)
    plan = Plan(changes=[change])
    if lot is None or lot.remaining <= 0 or lot.state != "available":
        change.lots.append(LotWrite(lot_sk, clear_due=True))
        return ledger.commit(plan, now)
    if not is_expired(lot.expires_at, now):
        ledger.forget()
        return None
    points = lot.remaining
    change.add("available", -points)
    change.add("expired", points)
    change.lots.append(LotWrite.of(lot, add=-points, set={"state": "expired"}, clear_due=True))
    change.entries.append(Entry(f"expire#{lot.expires_at}", "expire", "expiry", lot.expires_at or "", "system",
                                -points, {"available": -points, "expired": points}, lots={lot_sk: points}))
    plan.job = (run.pk, "run", {"lots_expired": 1, "points_expired": points})
    ledger.commit(plan, now)


def _reads(item) -> list[tuple[str, str]]:
    """What settling or expiring a due item reads first: its member, the lot and, for a purchase, the invite."""
    tenant_id, member_id = split_member_pk(item.pk)
    keys = [member_key(tenant_id, member_id), (item.pk, item.sk)]
    return keys + [invite_key(tenant_id, member_id)] if item.sk.startswith("P#") else keys


def process_due(run: Run) -> int:
    """Pages through every shard of the due index up to `now`; returns the pieces of work done."""
    done = 0
    until = run.now.isoformat()
    for shard in range(DUE_SHARDS):
        cursor = None
        while True:
            items, cursor = run.ledger.due(f"DUE#{shard}", until, cursor)
            with run.ledger.ahead([key for item in items for key in _reads(item)]):
                for item in items:
                    tenant_id, member_id = split_member_pk(item.pk)
                    tenant = run.tenant(tenant_id)
                    if tenant is None:
                        continue
                    work = _settle if item.sk.startswith("P#") else _expire
                    _retry(lambda w=work, t=tenant, m=member_id, s=item.sk: w(run, t, m, s))
                    done += 1
            if not cursor:
                break
    return done


def board_day(now: datetime, timezone: str) -> date:
    """The last finished program-day whose boards are due: yesterday from 02:00 local, else the day before."""
    local = now.astimezone(ZoneInfo(timezone))
    return (local - timedelta(hours=BOARD_HOUR)).date() - timedelta(days=1)


def build_due_boards(run: Run) -> int:
    built = 0
    for tenant_id in run.tenants.ids():
        tenant = run.tenant(tenant_id)
        day = board_day(run.now, tenant.timezone)
        if boards_built(run.ledger, tenant_id, day):
            continue
        count = build_boards(run.ledger, tenant_id, day, run.now)
        if run.ledger.mark_boards(built_mark(tenant_id, day), run.pk, count):
            built += count
    return built


def settle(now: datetime, *, ledger: PointsLedger, tenants: TenantRepository, job_name: str = "SettlePoints") -> dict:
    """One run as at `now` (the scheduled time). Returns its summary; a finished run is not repeated."""
    now = now.astimezone(UTC)  # due keys and run keys are written in UTC; one instant is one run
    run = Run(f"JOB#{job_name}#{now.isoformat()}", ledger, tenants, now, {})
    job = ledger.job(run.pk, "run")
    if job and job.done:
        return {**{k: int(getattr(job, k) or 0) for k in SUMMARY}, "repeated": True}
    process_due(run)
    build_due_boards(run)
    job = ledger.job(run.pk, "run")
    summary = {k: int(getattr(job, k) or 0) if job else 0 for k in SUMMARY}
    ledger.save_job(run.pk, "run", done=True)
    return summary
