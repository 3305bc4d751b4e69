"""SettlePoints: release pending points whose window ended, expire lots, build yesterday's boards.

Work is found in the due pages (pending points by settle time, lots by expiry), never a Scan. A page's line is a
hint: a lot that is no longer due (settled, spent, expired, or due later) is left as it is, with nothing written.
Each piece of work is planned from its own reads and conditioned on its member's version. A piece of one member is
its member's single write, its counts added with its window's; the others are written several to a transaction
that adds to the run's counters (services/job_batch.py). Each start of a run numbers its windows above the last
start's, and only the latest start counts: a start started again finds, by its entry's key (the run's time and the
entry's id), each piece an earlier start wrote and never counted, and counts it. So a run stopped at any point and
started again, or started twice at once, ends exactly as one clean run would, with exact counts. A run whose
checkpoint says done does nothing again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.ledger import (
    RUN_COUNTERS,
    Entry,
    JobRun,
    LotId,
    LotState,
    LotWrite,
    MemberChange,
    Plan,
    Preempted,
    Read,
    RecordWrite,
    credit,
    entry_id,
)
from qunyun.domain.points import expires_at, is_expired
from qunyun.domain.tenants import Tenant
from qunyun.services.boards import build_boards
from qunyun.services.job_batch import WINDOWS, Batches, Tally
from qunyun.services.ledger_ports import JobUnitOfWork as Ledger

BOARD_HOUR = 2  # boards of a day are built from 02:00 local the next day, once late events have arrived
HANDLED_EVERY = 10  # lists of due work (100 lots each) between the writes that let their pages go


@dataclass
class Run:
    job: str
    ledger: Ledger
    tenants: TenantRepository
    now: datetime
    _cache: dict[str, Tenant]
    tally: Tally | None = None
    counted: int = 0  # the last window counted before this start
    found: set[tuple[str, str, str]] = field(default_factory=set)  # pieces of earlier starts counted by this one

    @property
    def id(self) -> JobRun:
        return JobRun(self.job, self.now)

    def tenant(self, tenant_id: str) -> Tenant | None:
        if tenant_id not in self._cache:
            self._cache[tenant_id] = self.tenants.get(tenant_id)
        return self._cache[tenant_id]


def _start(run: Run, tenant: Tenant, member_id: str, lot_id: LotId) -> tuple[MemberChange, LotState | None, Plan]:
    """Reads the member and the lot in one round trip, and an empty plan of a change to the member."""
    run.ledger.prefetch(_reads(tenant.tenant_id, member_id, lot_id))
    change = MemberChange(run.ledger.member(tenant.tenant_id, member_id))
    lot = run.ledger.lot(tenant.tenant_id, member_id, lot_id)
    return change, lot, Plan(tenant.tenant_id, changes=[change])


def _pending_due(lot: LotState | None, now: datetime) -> bool:
    return (lot is not None and lot.state == "pending" and lot.remaining > 0 and bool(lot.settle_at)
            and datetime.fromisoformat(lot.settle_at) <= now)


def _settle(run: Run, tenant: Tenant, member_id: str, lot_id: LotId) -> Plan | None:
    ledger, now = run.ledger, run.now
    change, lot, plan = _start(run, tenant, member_id, lot_id)
    member = change.member
    if not _pending_due(lot, now):
        if not _sure(run):
            return _settle(run, tenant, member_id, lot_id)
        _uncounted(run, tenant.tenant_id, member_id, entry_id("settle", lot_id.name), "settled", "points_released")
        return None  # settled or refunded already, or due later: its line was a hint
    points, available_at = lot.remaining, datetime.fromisoformat(lot.settle_at)
    change.add("pending", -points)
    credit(change, points, expires_at(available_at, tenant.rules.expiry, tenant.timezone))
    change.lots.append(LotWrite.of(lot, add=-points, set={"state": "settled"}, clear_due=True))
    deltas = {k: v for k, v in change.deltas.items() if v}
    change.entries.append(Entry(entry_id("settle", lot.source_id), "settle", "purchase", lot.source_id or "", "system",
                                points, deltas, group_id=lot.group_id))
    counters = {"settled": 1, "points_released": points}
    if not member.settled_purchase:
        change.set["settled_purchase"] = True
        counters["invites_released"] = _release_invite(plan, tenant, member_id, available_at, ledger)
    plan.job = (run.id, {k: v for k, v in counters.items() if v})
    return _planned(run, plan)


def _release_invite(plan: Plan, tenant: Tenant, invitee_id: str, at: datetime, ledger: Ledger) -> int:
    """The invitee's first settled purchase releases the inviter's pending invite points, in the same
    transaction, so the release happens exactly once."""
    invite = ledger.invite(tenant.tenant_id, invitee_id)
    if invite is None:
        # An invite arriving meanwhile must see this settlement or be seen by it: it may not slip in.
        plan.absent_invites.append(invitee_id)
        return 0
    if invite.state != "pending":
        return 0
    inviter = ledger.member(tenant.tenant_id, invite.inviter_id)
    lot = ledger.lot(tenant.tenant_id, invite.inviter_id, invite.lot)
    if lot is not None and lot.settle_at:
        return 0  # an invite held while the invitee stays in the group is released at its own time
    plan.invite = RecordWrite(invitee_id, {"state": "released"})
    if lot is None or lot.state != "pending" or lot.remaining <= 0:
        return 0
    change = MemberChange(inviter)
    change.add("pending", -lot.remaining)
    credit(change, lot.remaining, expires_at(at, tenant.rules.expiry, tenant.timezone))
    change.lots.append(LotWrite.of(lot, add=-lot.remaining, set={"state": "settled"}))
    change.entries.append(Entry(entry_id("release", invitee_id), "release", "invite", invitee_id, "system",
                                lot.remaining, {k: v for k, v in change.deltas.items() if v}, group_id=lot.group_id))
    plan.changes.append(change)
    return 1


def _release_held(run: Run, tenant: Tenant, member_id: str, lot_id: LotId) -> Plan | None:
    """An invite heard as a join through the inviter's link, held `invite_hold_days`: released to the inviter
    once the hold is over, unless the invitee left first (which cancelled the lot: nothing to do then)."""
    ledger, now = run.ledger, run.now
    change, lot, plan = _start(run, tenant, member_id, lot_id)
    invite = ledger.invite(tenant.tenant_id, lot_id.name)
    if not _pending_due(lot, now):
        if not _sure(run):
            return _release_held(run, tenant, member_id, lot_id)
        _uncounted(run, tenant.tenant_id, member_id, entry_id("release", lot_id.name), "invites_released",
                   "points_released")
        return None
    points, available_at = lot.remaining, datetime.fromisoformat(lot.settle_at)
    change.add("pending", -points)
    credit(change, points, expires_at(available_at, tenant.rules.expiry, tenant.timezone))
    change.lots.append(LotWrite.of(lot, add=-points, set={"state": "settled"}, clear_due=True))
    change.entries.append(Entry(entry_id("release", lot_id.name), "release", "invite", lot_id.name, "system", points,
                                {k: v for k, v in change.deltas.items() if v}, group_id=lot.group_id))
    if invite is not None and invite.state == "pending":
        plan.invite = RecordWrite(lot_id.name, {"state": "released"})
    plan.job = (run.id, {"invites_released": 1, "points_released": points})
    return _planned(run, plan)


def _expire(run: Run, tenant: Tenant, member_id: str, lot_id: LotId) -> Plan | None:
    now = run.now
    change, lot, plan = _start(run, tenant, member_id, lot_id)
    if lot is None or lot.remaining <= 0 or lot.state != "available" or not is_expired(lot.expires_at, now):
        if not _sure(run):
            return _expire(run, tenant, member_id, lot_id)
        _uncounted(run, tenant.tenant_id, member_id, entry_id("expire", lot_id.name), "lots_expired", "points_expired")
        return None  # spent, expired already, or later: its line was a hint
    points = lot.remaining
    change.add("available", -points)
    change.add("expired", points)
    change.lots.append(LotWrite.of(lot, add=-points, set={"state": "expired"}, clear_due=True))
    change.entries.append(Entry(entry_id("expire", lot.expires_at), "expire", "expiry", lot.expires_at or "", "system",
                                -points, {"available": -points, "expired": points}, lots={lot_id: points}))
    plan.job = (run.id, {"lots_expired": 1, "points_expired": points})
    return _planned(run, plan)


def _sure(run: Run) -> bool:
    """Lets go of the reads of a piece that found nothing to do; False when they were read ahead eventually
    consistently, and may be a moment old: it is read again (consistently, the keys read ahead being taken)."""
    sure = run.ledger.consistent()
    run.ledger.forget()
    return sure


def _uncounted(run: Run, tenant_id: str, member_id: str, entry: str, pieces: str, points: str) -> None:
    """On a run started again, counts a piece an earlier start wrote alone and never counted: its entry (read after
    the member, whose stage puts a missing entry) names a window of an earlier start above the last one counted."""
    if run.tally is None or run.tally.first <= WINDOWS + 1 or (tenant_id, member_id, entry) in run.found:
        return  # a first start: nothing was written before it
    piece = run.ledger.piece_of(tenant_id, member_id, run.now, entry)
    if piece is not None and run.counted < piece[0] < run.tally.first:
        run.found.add((tenant_id, member_id, entry))
        run.tally.add({pieces: 1, points: abs(piece[1])})


def _planned(run: Run, plan: Plan) -> Plan:
    """The plan, its reads let go: it is committed later, with others or alone."""
    run.ledger.forget()
    return plan


def _reads(tenant_id: str, member_id: str, lot: LotId) -> list[Read]:
    """What settling or expiring a lot reads first: its member, the lot and, for a purchase, the invite."""
    reads = [Read.member(tenant_id, member_id), Read.lot(tenant_id, member_id, lot)]
    if lot.source == "invite":
        return reads + [Read("invite", tenant_id, lot.name)]
    return reads + [Read("invite", tenant_id, member_id)] if lot.pending else reads


def process_due(run: Run) -> int:
    """Works every lot the due pages list up to `now`, then lets go of the pages read, once the work is written;
    returns the pieces of work done."""
    done, batches, skipped = 0, Batches(run.ledger, run.now, run.tally), set()
    for n, listed in enumerate(run.ledger.due_work(run.now.isoformat()), 1):
        page = [work for work in listed if run.tenant(work[0]) is not None]
        skipped |= {work[0] for work in listed} - {work[0] for work in page}
        with run.ledger.ahead([read for work in page for read in _reads(*work)], consistent=False):
            for tenant_id, member_id, lot in page:
                work = _release_held if lot.source == "invite" else _settle if lot.pending else _expire
                tenant = run.tenant(tenant_id)
                batches.do(tenant_id, lambda w=work, t=tenant, m=member_id, x=lot: w(run, t, m, x))
                done += 1
        if n % HANDLED_EVERY == 0:  # the lists so far written, their pages let go: a run cut short keeps its progress
            batches.flush()
            run.ledger.due_handled(skipped)
    batches.flush()
    run.ledger.due_handled(skipped)  # a page listing a tenant not worked here stays for a run that works it
    return done


def board_day(now: datetime, timezone: str) -> date:
    """The last finished program-day whose boards are due: yesterday from 02:00 local, else the day before."""
    local = now.astimezone(ZoneInfo(timezone))
    return (local - timedelta(hours=BOARD_HOUR)).date() - timedelta(days=1)


def build_due_boards(run: Run) -> int:
    built = 0
    for tenant_id in run.tenants.ids():
        tenant = run.tenant(tenant_id)
        day = str(board_day(run.now, tenant.timezone))
        if run.ledger.boards_built(tenant_id, day):
            continue
        count = build_boards(run.ledger, tenant_id, date.fromisoformat(day), run.now)
        if run.ledger.mark_boards(tenant_id, day, run.id, count):
            built += count
    return built


def settle(now: datetime, *, ledger: Ledger, tenants: TenantRepository, job_name: str = "SettlePoints") -> dict:
    """One run as at `now` (the scheduled time). Returns its summary; a finished run is not repeated."""
    now = now.astimezone(UTC)  # due work and runs are named in UTC; one instant is one run
    run = Run(job_name, ledger, tenants, now, {})
    before = ledger.run(run.id)
    if before and before["done"]:
        return {**_summary(before), "repeated": True}
    start, run.counted = ledger.start_run(run.id)
    run.tally = Tally(ledger, run.id, start)
    try:
        process_due(run)
        build_due_boards(run)
        summary = _summary(ledger.run(run.id))
        ledger.finish_run(run.id, start)
    except Preempted:  # a later start of this run counts what this one wrote: its answer is that start's
        return _when_done(ledger, run)
    return summary


def _when_done(ledger: Ledger, run: Run, wait: float = 60.0) -> dict:
    """The run's summary once its latest start has finished it; the counts so far if that takes longer than `wait`
    seconds (a start that died: the scheduler's next delivery finishes the run)."""
    deadline = time.monotonic() + wait
    while True:
        counters = ledger.run(run.id)
        if counters and counters["done"]:
            return {**_summary(counters), "repeated": True}
        if time.monotonic() > deadline:
            return _summary(counters)
        time.sleep(0.05)


def _summary(counters: dict | None) -> dict:
    return {k: (counters or {}).get(k, 0) for k in RUN_COUNTERS}
