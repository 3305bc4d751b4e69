"""What a member has: balance (with lots past expiry counted as expired at once), streak, entries."""

from __future__ import annotations

from datetime import datetime

from qunyun.domain.errors import NotFound
from qunyun.domain.ledger import balance_view
from qunyun.domain.points import NEVER, is_expired
from qunyun.services.ledger_ports import MemberReads


def member_view(tenant_id: str, member_id: str, *, ledger: MemberReads, now: datetime) -> dict:
    member = ledger.member(tenant_id, member_id)
    if not member.exists:
        raise NotFound(f"There is no member {member_id!r}.", code="unknown_member")
    balance = balance_view(member.balance)
    expiring = []
    for lot in sorted(ledger.lots(tenant_id, member_id), key=lambda lot: lot.expires_at or NEVER):
        if lot.state != "available" or lot.remaining <= 0:
            continue
        if is_expired(lot.expires_at, now):
            # Not yet processed by the expiry job, but no longer spendable: show it as expired already.
            balance["available"] -= lot.remaining
            balance["expired"] += lot.remaining
        elif lot.expires_at != NEVER:
            expiring.append({"points": lot.remaining, "expires_at": lot.expires_at})
    return {
        "member_id": member_id,
        "nickname": member.nickname,
        "status": member.status,
        "balance": balance,
        "earned": member.earned,
        "streak": {"days": member.streak_days,
                   "last_checkin": str(member.last_checkin) if member.last_checkin else None},
        "expiring": expiring,
    }


def entries_page(tenant_id: str, member_id: str, limit: int, cursor: str | None, *, ledger: MemberReads) -> dict:
    """A page of the member's entries, newest first; `next_cursor` fetches the next page."""
    if not ledger.member(tenant_id, member_id).exists:
        raise NotFound(f"There is no member {member_id!r}.", code="unknown_member")
    items, next_cursor = ledger.entries_page(tenant_id, member_id, limit, cursor)
    entries = [{
        "entry_id": i.entry_id, "kind": i.kind, "source_type": i.source_type, "source_id": i.source_id,
        "actor": i.actor, "reason": i.reason, "points": i.points, "deltas": i.deltas,
        "group_id": i.group_id, "program_day": i.program_day, "occurred_at": i.occurred_at,
        "created_at": i.created_at.isoformat(),
    } for i in items]
    return {"entries": entries, "next_cursor": next_cursor}
