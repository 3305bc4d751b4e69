"""What one ledger change writes, as plain data: the planners decide, the adapter commits atomically.

A Plan is applied in one DynamoDB transaction whose conditions enforce the rules: the member's version
(every change to a member's balance, lots and entries is serialised by it), guards that may not exist
yet (once per day, once per question, once per invitee, once per event id) and the day-cap counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from qunyun.domain.points import BALANCE_PARTS, NEVER


@dataclass
class LotState:
    sk: str
    state: str
    remaining: int
    expires_at: str | None = None
    settle_at: str | None = None
    source_type: str | None = None
    source_id: str | None = None
    group_id: str | None = None
    invitee_id: str | None = None


@dataclass
class MemberState:
    tenant_id: str
    member_id: str
    exists: bool = False
    version: int = 0
    status: str = "active"
    nickname: str | None = None
    balance: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BALANCE_PARTS, 0))
    earned: int = 0
    streak_days: int = 0
    last_checkin: date | None = None
    settled_purchase: bool = False

    def after(self, deltas: dict[str, int]) -> dict[str, int]:
        return {p: self.balance.get(p, 0) + deltas.get(p, 0) for p in BALANCE_PARTS}


@dataclass
class Entry:
    entry_id: str
    kind: str  # earn | pending | settle | release | refund | expire | adjust | spend | restore
    source_type: str
    source_id: str
    actor: str
    points: int
    deltas: dict[str, int]
    earned: int = 0
    reason: str | None = None
    lots: dict[str, int] = field(default_factory=dict)
    group_id: str | None = None
    program_day: str | None = None
    occurred_at: str | None = None
    on_board: bool = False


@dataclass
class LotWrite:
    sk: str
    add: int = 0
    set: dict[str, Any] = field(default_factory=dict)
    due: str | None = None  # set the due-index time
    clear_due: bool = False
    # The lot as the plan read it, (state, remaining): the write applies only if it is still so. Reads
    # of a member and its lots are not one snapshot, so the member's version alone cannot vouch for them.
    expect: tuple[str, int] | None = None

    @classmethod
    def of(cls, lot: LotState, **kw: Any) -> LotWrite:
        return cls(lot.sk, expect=(lot.state, lot.remaining), **kw)


@dataclass
class MemberChange:
    """Everything one transaction does under one member's key."""

    member: MemberState
    deltas: dict[str, int] = field(default_factory=dict)  # balance parts and "earned"
    set: dict[str, Any] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    lots: list[LotWrite] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)  # sort keys that must not exist yet
    cap: tuple[str, int, int] | None = None  # (sort key, granted seen, granted after)

    def add(self, part: str, amount: int) -> None:
        if amount:
            self.deltas[part] = self.deltas.get(part, 0) + amount


@dataclass
class Plan:
    changes: list[MemberChange]
    event: tuple[str, str, dict] | None = None  # (event_id, digest, response)
    order: dict[str, Any] | None = None  # order item write: {"order_id", "create": bool, "version", "set": {...}}
    invite: dict[str, Any] | None = None  # invite guard write: {"invitee_id", "create": bool, "set": {...}}
    job: tuple[str, str, dict[str, int]] | None = None  # (pk, sk, summary counters to add)
    # Items read to decide but not written: the transaction checks they are still as read.
    absent: list[tuple[str, str]] = field(default_factory=list)  # keys that must still not exist
    unchanged: list[MemberState] = field(default_factory=list)  # members that must still be at their version
    stock: list[tuple[str, int]] = field(default_factory=list)  # (shard pk, change); a take needs stock >= it
    mall_order: dict[str, Any] | None = None  # {"pk", "create": bool, "expect_status", "set": {...}}


def available_lot_key(expires: str) -> str:
    return f"L#{expires}"


def credit(change: MemberChange, points: int, expires: str) -> int:
    """Adds points to the available lot of their expiry, repaying debt first; returns what was repaid."""
    debt = change.member.balance["debt"] + change.deltas.get("debt", 0)
    repaid = min(points, debt)
    if repaid:
        change.add("debt", -repaid)
    if points - repaid:
        change.add("available", points - repaid)
        due = None if expires == NEVER else expires
        change.lots.append(LotWrite(available_lot_key(expires), add=points - repaid,
                                    set={"state": "available", "expires_at": expires}, due=due))
    return repaid


def take_available(change: MemberChange, lots: list[LotState], points: int, now: datetime) -> dict[str, int]:
    """Takes up to `points` from unexpired available lots, soonest-expiring first; returns lot → taken.

    Lots past `expires_at` are never used, even before the expiry job has run."""
    taken: dict[str, int] = {}
    left = points
    for lot in sorted(lots, key=lambda lot: lot.expires_at or NEVER):
        if left == 0:
            break
        if lot.state != "available" or lot.remaining <= 0:
            continue
        if lot.expires_at and lot.expires_at != NEVER and datetime.fromisoformat(lot.expires_at) <= now:
            continue
        use = min(lot.remaining, left)
        taken[lot.sk] = use
        change.lots.append(LotWrite.of(lot, add=-use))
        left -= use
    change.add("available", -(points - left))
    return taken


def balance_view(balance: dict[str, int]) -> dict[str, int]:
    return {p: int(balance.get(p, 0)) for p in BALANCE_PARTS}
