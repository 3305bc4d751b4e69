"""What a member has: balance (with lots past expiry counted as expired at once), streak, entries."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from qunyun.adapters.points_ledger import PointsLedger, member_pk
from qunyun.domain.errors import InvalidRequest, NotFound
from qunyun.domain.ledger import balance_view
from qunyun.domain.points import NEVER, is_expired


def member_view(tenant_id: str, member_id: str, *, ledger: PointsLedger, now: datetime) -> dict:
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


def _decode_cursor(cursor: str, pk: str) -> dict:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        assert key["pk"]["S"] == pk and key["sk"]["S"].startswith("E#")
        return key
    except (ValueError, KeyError, TypeError, AssertionError, binascii.Error):
        raise InvalidRequest("cursor is not one this API returned for this member.", field="cursor") from None


def entries_page(tenant_id: str, member_id: str, limit: int, cursor: str | None, *, ledger: PointsLedger) -> dict:
    if not ledger.member(tenant_id, member_id).exists:
        raise NotFound(f"There is no member {member_id!r}.", code="unknown_member")
    pk = member_pk(tenant_id, member_id)
    items, last = ledger.entries(tenant_id, member_id, limit, _decode_cursor(cursor, pk) if cursor else None)
    entries = [{
        "entry_id": i.entry_id, "kind": i.kind, "source_type": i.source_type, "source_id": i.source_id,
        "actor": i.actor, "reason": i.reason, "points": int(i.points),
        "deltas": {k: int(v) for k, v in (i.deltas.as_dict() if i.deltas else {}).items()},
        "group_id": i.group_id, "program_day": i.program_day, "occurred_at": i.occurred_at,
        "created_at": i.created_at.isoformat(),
    } for i in items]
    next_cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
    return {"entries": entries, "next_cursor": next_cursor}
