"""What one ledger change writes, as plain data: the planners decide, the adapter commits atomically.

A Plan is applied in one transaction whose conditions enforce the rules: the member's version (every
change to a member's balance, lots and entries is serialised by it), guards that may not exist yet (once
per day, once per question, once per invitee, once per event id) and the day-cap counter. It names what
changes (members, lots, guards, stock shards, records, a run's counters); only the adapter knows keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any

from qunyun.domain.points import BALANCE_PARTS, NEVER


class Contention(Exception):
    """A commit lost a race (another change to the same member, a duplicate in flight): re-read and re-plan."""

    def __init__(self, reasons: list[str | None]):
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


class Preempted(Exception):
    """A later start of the same scheduled run has begun: it counts from here, and this start stops writing counts."""


@dataclass(frozen=True)
class LotId:
    """Which lot: available points named by their expiry (`source` "expiry"), or the pending points of
    one purchase or invite (`source` "purchase" or "invite", `name` the order or invitee id)."""

    source: str
    name: str

    @classmethod
    def expiring(cls, expires: str) -> LotId:
        return cls("expiry", expires)

    @property
    def pending(self) -> bool:
        return self.source != "expiry"


@dataclass(frozen=True)
class Guard:
    """A once-only mark or counter under a member: a day's check-in, a quiz question, a day's cap of one
    source of points, a member's use of a reward in one limit window."""

    kind: str  # checkin | quiz | cap | limit
    parts: tuple[str, ...]

    @classmethod
    def checkin(cls, day: str) -> Guard:
        return cls("checkin", (day,))

    @classmethod
    def quiz(cls, quiz_id: str, question_id: str) -> Guard:
        return cls("quiz", (quiz_id, question_id))

    @classmethod
    def cap(cls, day: str, source: str) -> Guard:
        return cls("cap", (day, source))

    @classmethod
    def limit(cls, reward_id: str, window: str) -> Guard:
        return cls("limit", (reward_id, window))


RUN_COUNTERS = ("settled", "points_released", "invites_released", "lots_expired", "points_expired", "boards_built")


@dataclass(frozen=True)
class JobRun:
    """One scheduled run of a job, named by the job and its scheduled time: its checkpoint and counters."""

    job: str
    at: datetime


@dataclass(frozen=True)
class Read:
    """One item a change reads before it plans, in domain terms; read together in one round trip."""

    kind: str  # member | guard | lot | event | purchase | invite | redemption | reward | stock
    tenant_id: str
    id: str  # the member, event, order, invitee, redemption or reward id
    part: Guard | LotId | int | None = None  # the member's guard or lot, or the reward's stock shard

    @classmethod
    def member(cls, tenant_id: str, member_id: str) -> Read:
        return cls("member", tenant_id, member_id)

    @classmethod
    def guard(cls, tenant_id: str, member_id: str, guard: Guard) -> Read:
        return cls("guard", tenant_id, member_id, guard)

    @classmethod
    def lot(cls, tenant_id: str, member_id: str, lot: LotId) -> Read:
        return cls("lot", tenant_id, member_id, lot)

    @classmethod
    def stock(cls, tenant_id: str, reward_id: str, shard: int) -> Read:
        return cls("stock", tenant_id, reward_id, shard)


@dataclass
class LotState:
    id: LotId
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
    # The guards kept on the member itself (check-in marks, day caps, reward limits): they change only with
    # the member, whose version condition guards them, so they cost no item of their own.
    held: dict[Guard, int] = field(default_factory=dict)
    # The available lots kept on the member itself, by expiry, and what each holds (0: spent, kept until it expires).
    held_lots: dict[LotId, int] = field(default_factory=dict)
    # The token of a change written as single writes that the member item still names (settled before it was
    # read: its next write clears it).
    stage: str | None = None
    # The entries the member item keeps instead of an item each, as stored (adapters/journal.py): opaque here.
    journal: list[dict] = field(default_factory=list)

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
    lots: dict[LotId, int] = field(default_factory=dict)
    group_id: str | None = None
    program_day: str | None = None
    occurred_at: str | None = None
    on_board: bool = False
    created_at: datetime | None = None  # set when read back; the commit stamps its own time


@dataclass
class LotWrite:
    lot: LotId
    add: int = 0
    set: dict[str, Any] = field(default_factory=dict)
    due: str | None = None  # set the due-index time
    clear_due: bool = False
    # The lot as the plan read it, (state, remaining): the write applies only if it is still so. Reads
    # of a member and its lots are not one snapshot, so the member's version alone cannot vouch for them.
    expect: tuple[str, int] | None = None

    @classmethod
    def of(cls, lot: LotState, **kw: Any) -> LotWrite:
        return cls(lot.id, expect=(lot.state, lot.remaining), **kw)


@dataclass
class MemberChange:
    """Everything one transaction does under one member's key."""

    member: MemberState
    deltas: dict[str, int] = field(default_factory=dict)  # balance parts and "earned"
    set: dict[str, Any] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    lots: list[LotWrite] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)  # marks that must not exist yet
    cap: tuple[Guard, int, int] | None = None  # (counter, granted seen, granted after)

    def add(self, part: str, amount: int) -> None:
        if amount:
            self.deltas[part] = self.deltas.get(part, 0) + amount


@dataclass(frozen=True)
class EventRecord:
    """The idempotency record of a points event: its content digest and the answer it got."""

    event_id: str
    digest: str
    response: dict


@dataclass
class RecordWrite:
    """A record to create (it must not exist yet) or to update, only if still at `version` when given.
    `key` is the purchase's order id, the invitee's id or the redemption's order id; `fields` are named
    as the record's domain fields."""

    key: str
    fields: dict[str, Any]
    create: bool = False
    version: int | None = None

    @classmethod
    def new(cls, record: Any, key_field: str) -> RecordWrite:
        """The create of a whole record (a dataclass), named by its `key_field`."""
        fields = {f.name: getattr(record, f.name) for f in dataclass_fields(record) if f.name != key_field}
        return cls(getattr(record, key_field), fields, create=True)


@dataclass(frozen=True)
class StockMove:
    """Units put back (positive) or taken (negative: the shard must hold at least that many)."""

    reward_id: str
    shard: int
    units: int


@dataclass(frozen=True)
class Board:
    """A stored leaderboard: ranked rows, the last program-day it counts, and when it was built."""

    entries: list[dict]
    through: str | None
    as_of: datetime


@dataclass
class Purchase:
    """What a purchase earned and what was refunded of it."""

    order_id: str
    member_id: str
    amount_fen: int
    points: int
    refunded_fen: int = 0
    reversed_points: int = 0
    refund_ids: list[str] = field(default_factory=list)
    group_id: str | None = None
    version: int = 0
    event_id: str | None = None  # the event that recorded it (None on an order written before it was kept)


@dataclass
class Invite:
    """The one invite reward of an invitee: who invited, the inviter's pending lot, and its state."""

    invitee_id: str
    inviter_id: str | None
    lot: LotId | None
    granted: int = 0
    state: str | None = None  # pending | released


@dataclass
class Plan:
    tenant_id: str
    changes: list[MemberChange] = field(default_factory=list)
    event: EventRecord | None = None
    purchase: RecordWrite | None = None  # what a purchase earned and what was refunded of it
    invite: RecordWrite | None = None  # the one invite reward of an invitee
    redemption: RecordWrite | None = None  # a mall order
    job: tuple[JobRun, dict[str, int]] | None = None  # a run's summary counters to add
    # Items read to decide but not written: the transaction checks they are still as read.
    absent_invites: list[str] = field(default_factory=list)  # invitees whose invite must still not exist
    unchanged: list[MemberState] = field(default_factory=list)  # members that must still be at their version
    stock: list[StockMove] = field(default_factory=list)


def invite_checks(plan: Plan) -> list[str]:
    """The invitees whose invite the plan's transaction must check is still absent. Every invite moves its
    invitee's version (or needs the invitee absent): a plan that changes the invitee at the version it read cannot
    commit after an invite it did not see, with no check of the invite's own."""
    at_version = {c.member.member_id for c in plan.changes if c.member.exists}
    return [invitee_id for invitee_id in plan.absent_invites if invitee_id not in at_version]


def entry_id(action: str, source_id: str) -> str:
    """The id of an entry qunyun makes itself, one per action on its source (a redemption's spend and restore,
    a purchase's settle, an invite's release, a lot's expiry); an event's entries carry the event's id."""
    return f"{action}#{source_id}"


def spend_entry(order_id: str, cost: int, lots: dict[LotId, int], day: str) -> Entry:
    """A redemption's spend entry, listed under its program day (RollupMetrics counts redemptions there). It holds
    nothing its order does not, so a staged redemption's order names only the day (adapters/points_stage.py)."""
    return Entry(entry_id("redeem", order_id), "spend", "redemption", order_id, "member", -cost,
                 {"available": -cost, "spent": cost}, lots=dict(lots), program_day=day)


def credit(change: MemberChange, points: int, expires: str) -> int:
    """Adds points to the available lot of their expiry, repaying debt first; returns what was repaid."""
    debt = change.member.balance["debt"] + change.deltas.get("debt", 0)
    repaid = min(points, debt)
    if repaid:
        change.add("debt", -repaid)
    if points - repaid:
        change.add("available", points - repaid)
        due = None if expires == NEVER else expires
        change.lots.append(LotWrite(LotId.expiring(expires), add=points - repaid,
                                    set={"state": "available", "expires_at": expires}, due=due))
    return repaid


def take_available(change: MemberChange, lots: list[LotState], points: int, now: datetime) -> dict[LotId, int]:
    """Takes up to `points` from unexpired available lots, soonest-expiring first; returns lot → taken.

    Lots past `expires_at` are never used, even before the expiry job has run."""
    taken: dict[LotId, int] = {}
    left = points
    for lot in sorted(lots, key=lambda lot: lot.expires_at or NEVER):
        if left == 0:
            break
        if lot.state != "available" or lot.remaining <= 0:
            continue
        if lot.expires_at and lot.expires_at != NEVER and datetime.fromisoformat(lot.expires_at) <= now:
            continue
        use = min(lot.remaining, left)
        taken[lot.id] = use
        change.lots.append(LotWrite.of(lot, add=-use))
        left -= use
    change.add("available", -(points - left))
    return taken


def balance_view(balance: dict[str, int]) -> dict[str, int]:
    return {p: int(balance.get(p, 0)) for p in BALANCE_PARTS}
