"""Manual adjustments by an operator (actor admin), and reconciliation of every balance with its entries."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

from qunyun.domain.errors import InvalidRequest, NotFound, QunyunError
from qunyun.domain.ledger import Contention, Entry, MemberChange, Plan, balance_view, credit, take_available
from qunyun.domain.points import BALANCE_PARTS, expires_at, reconcile
from qunyun.domain.tenants import Tenant
from qunyun.services.ledger_ports import PointsUnitOfWork as Ledger


def adjust(tenant: Tenant, member_id: str, points: int, reason: str, *, ledger: Ledger, now: datetime,
           adjustment_id: str | None = None) -> dict:
    """+N credits available points (repaying debt first); −N takes available points, soonest-expiring
    first, and what the member no longer has becomes debt. Both are written off or earned by 'admin'."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("An adjustment needs a reason (--reason) so the ledger says why.", field="reason")
    if points == 0 or abs(points) > 10_000_000:
        raise InvalidRequest("Adjust by a whole number of points other than 0, at most 10,000,000.", field="points")
    adjustment_id = adjustment_id or f"adjust-{uuid.uuid4().hex[:12]}"
    for attempt in range(25):
        member = ledger.member(tenant.tenant_id, member_id)
        if not member.exists and points < 0:  # a grant may be a member's first entry; a deduction may not
            raise NotFound(f"There is no member {member_id!r}.", code="unknown_member")
        change = MemberChange(member)
        lots: dict[str, int] = {}
        if points > 0:
            change.add("earned", points)
            credit(change, points, expires_at(now, tenant.rules.expiry, tenant.timezone))
        else:
            lots = take_available(change, ledger.lots(tenant.tenant_id, member_id), -points, now)
            change.add("written_off", -points)
            change.add("debt", -points - sum(lots.values()))
        deltas = {k: v for k, v in change.deltas.items() if k != "earned" and v}
        change.entries.append(Entry(adjustment_id, "adjust", "admin", adjustment_id, "admin", points, deltas,
                                    earned=max(points, 0), reason=reason, lots=lots))
        try:
            ledger.commit(Plan(tenant.tenant_id, changes=[change]), now)
            return {"member_id": member_id, "adjustment_id": adjustment_id, "points": points,
                    "balance": balance_view(member.after(change.deltas))}
        except Contention:
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise QunyunError("Too many concurrent changes to this member; run the adjustment again.", code="contention",
                      status=409)


def reconcile_member(tenant_id: str, member_id: str, *, ledger: Ledger) -> list[str]:
    """Rebuilds one balance from its entries and lots; returns what disagrees (nothing when exact)."""
    member = ledger.member(tenant_id, member_id)
    rebuilt = dict.fromkeys(BALANCE_PARTS, 0)
    earned = 0
    for entry in ledger.all_entries(tenant_id, member_id):
        for part, amount in entry.deltas.items():
            rebuilt[part] += amount
        earned += entry.earned
    problems = []
    stored = balance_view(member.balance)
    for part in BALANCE_PARTS:
        if rebuilt[part] != stored[part]:
            problems.append(f"{part}: entries say {rebuilt[part]}, balance says {stored[part]}")
    if earned != member.earned:
        problems.append(f"earned: entries say {earned}, balance says {member.earned}")
    if gap := reconcile(stored, member.earned):
        problems.append(f"earned {member.earned} != available + pending + spent + expired + cancelled + "
                        f"written_off - debt (off by {gap})")
    lots_available = sum(lot.remaining for lot in ledger.lots(tenant_id, member_id) if lot.state == "available")
    lots_pending = sum(lot.remaining for lot in ledger.lots(tenant_id, member_id, pending=True)
                       if lot.state == "pending")
    if lots_available != stored["available"]:
        problems.append(f"available lots hold {lots_available}, balance says {stored['available']}")
    if lots_pending != stored["pending"]:
        problems.append(f"pending lots hold {lots_pending}, balance says {stored['pending']}")
    if min(stored.values()) < 0:
        problems.append(f"a balance part is negative: {stored}")
    return problems


def reconcile_tenant(tenant_id: str, *, ledger: Ledger) -> Iterator[tuple[str, list[str]]]:
    """(member, problems) for every member of the tenant, found through the members index."""
    for member_id in ledger.members(tenant_id):
        yield member_id, reconcile_member(tenant_id, member_id, ledger=ledger)
