"""Points events: check-in, quiz answers, purchases, refunds and invites, each one ledger transaction."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from qunyun.domain.errors import Conflict, InvalidRequest, QunyunError, Unprocessable
from qunyun.domain.events import MAX_AGE, MAX_FUTURE, PointsEvent
from qunyun.domain.ledger import (
    Contention,
    Entry,
    EventRecord,
    Guard,
    Invite,
    LotId,
    LotWrite,
    MemberChange,
    Plan,
    Purchase,
    Read,
    RecordWrite,
    balance_view,
    credit,
    take_available,
)
from qunyun.domain.points import cap_grant, checkin_points, expires_at, program_day, purchase_points, refund_share
from qunyun.domain.points import streak_after as next_streak
from qunyun.domain.rules import Rules
from qunyun.domain.tenants import Tenant
from qunyun.services.ledger_ports import PointsUnitOfWork as Ledger

MAX_ATTEMPTS = 25


class Outcome:
    """What a planner decided: the plan to commit and the response the caller gets."""

    def __init__(self, change: MemberChange, granted: int = 0, pending: int = 0, capped: bool = False,
                 reason: str | None = None, **extra):
        self.plan = Plan(change.member.tenant_id, changes=[change])
        self.granted, self.pending, self.capped, self.reason, self.extra = granted, pending, capped, reason, extra

    def response(self, event_id: str) -> dict:
        change = self.plan.changes[0]
        body = {"event_id": event_id, "status": "applied", "granted": self.granted, "pending": self.pending,
                "capped": self.capped, "balance": balance_view(change.member.after(change.deltas)), **self.extra}
        if self.reason:
            body["reason"] = self.reason
        return body


def check_time(event: PointsEvent, now: datetime) -> None:
    if event.occurred_at > now + MAX_FUTURE:
        raise InvalidRequest("occurred_at lies more than 5 minutes in the future; send the time the event happened.",
                             field="occurred_at")
    if event.occurred_at < now - MAX_AGE:
        raise Unprocessable("occurred_at is more than 7 days old; such events are no longer accepted.",
                            code="stale_event", field="occurred_at")


def _entry(event: PointsEvent, change: MemberChange, kind: str, source_id: str, points: int, day: str,
           earned: int = 0) -> Entry:
    deltas = {k: v for k, v in change.deltas.items() if k != "earned" and v}
    return Entry(event.event_id, kind, event.type, source_id, actor="member", points=points, deltas=deltas,
                 earned=earned, group_id=event.group_id, program_day=day,
                 occurred_at=event.occurred_at.isoformat(), on_board=True)


def _capped(change: MemberChange, ledger: Ledger, rules: Rules, source: str, day: str,
            requested: int) -> tuple[int, bool]:
    cap = rules.daily_caps.get(source)
    if cap is None:
        return requested, False
    guard = Guard.cap(day, source)
    granted_today = ledger.guard(change.member.tenant_id, change.member.member_id, guard) or 0
    grant, capped = cap_grant(requested, granted_today, cap)
    if grant:
        change.cap = (guard, granted_today, granted_today + grant)
    return grant, capped


def _earn(change: MemberChange, event: PointsEvent, rules: Rules, tz: str, now: datetime, source_id: str,
          day: str, points: int) -> None:
    change.add("earned", points)
    credit(change, points, expires_at(now, rules.expiry, tz))
    change.entries.append(_entry(event, change, "earn", source_id, points, day, earned=points))


def plan_checkin(tenant: Tenant, event: PointsEvent, ledger: Ledger, change: MemberChange,
                 now: datetime) -> Outcome:
    rules, day = tenant.rules, program_day(event.occurred_at, tenant.timezone)
    guard = Guard.checkin(str(day))
    if ledger.guard(tenant.tenant_id, event.member_id, guard) is not None:
        return Outcome(change, reason="already_checked_in")
    m = change.member
    late = m.last_checkin is not None and day <= m.last_checkin
    streak = m.streak_days if late else next_streak(m.last_checkin, m.streak_days, day)
    requested = rules.checkin.base if late else checkin_points(rules.checkin, streak)
    grant, capped = _capped(change, ledger, rules, "checkin", str(day), requested)
    change.guards.append(guard)
    if not late:
        change.set.update(streak_days=streak, last_checkin=str(day))
    if grant:
        _earn(change, event, rules, tenant.timezone, now, str(day), str(day), grant)
    return Outcome(change, granted=grant, capped=capped, streak=streak)


def plan_quiz(tenant: Tenant, event: PointsEvent, ledger: Ledger, change: MemberChange,
              now: datetime) -> Outcome:
    rules, day = tenant.rules, str(program_day(event.occurred_at, tenant.timezone))
    guard = Guard.quiz(event.quiz_id, event.question_id)
    if ledger.guard(tenant.tenant_id, event.member_id, guard) is not None:
        return Outcome(change, reason="already_answered")
    change.guards.append(guard)
    requested = rules.quiz.points_per_correct if event.correct else 0
    grant, capped = _capped(change, ledger, rules, "quiz", day, requested) if requested else (0, False)
    if grant:
        _earn(change, event, rules, tenant.timezone, now, f"{event.quiz_id}/{event.question_id}", day, grant)
    return Outcome(change, granted=grant, capped=capped)


def plan_purchase(tenant: Tenant, event: PointsEvent, ledger: Ledger, change: MemberChange,
                  now: datetime) -> Outcome:
    rules, day = tenant.rules, str(program_day(event.occurred_at, tenant.timezone))
    order = ledger.order(tenant.tenant_id, event.order_id)
    if order and order.event_id == event.event_id:
        # recorded by this very event, whose record was read before the order was written (a batch of reads is
        # not one instant): read again, to answer as the first time
        raise Contention(["OrderOfThisEvent"])
    if order:
        raise Conflict(f"Order {event.order_id!r} was already recorded by another event.", code="order_exists",
                       field="order_id")
    requested = purchase_points(event.amount_fen, rules.purchase.points_per_yuan)
    grant, capped = _capped(change, ledger, rules, "purchase", day, requested)
    settle_at = (event.occurred_at + timedelta(days=rules.purchase.return_window_days)).astimezone(UTC).isoformat()
    if grant:
        change.add("pending", grant)
        change.add("earned", grant)
        change.lots.append(LotWrite(LotId("purchase", event.order_id), add=grant, due=settle_at, set={
            "state": "pending", "settle_at": settle_at, "source_type": "purchase", "source_id": event.order_id,
            "group_id": event.group_id}))
        change.entries.append(_entry(event, change, "pending", event.order_id, grant, day, earned=grant))
    outcome = Outcome(change, pending=grant, capped=capped, settles_at=settle_at)
    purchase = Purchase(event.order_id, event.member_id, event.amount_fen, grant, group_id=event.group_id,
                        event_id=event.event_id)
    outcome.plan.purchase = RecordWrite.new(purchase, "order_id")
    return outcome


def plan_refund(tenant: Tenant, event: PointsEvent, ledger: Ledger, change: MemberChange,
                now: datetime) -> Outcome:
    day = str(program_day(event.occurred_at, tenant.timezone))
    order = ledger.order(tenant.tenant_id, event.order_id)
    if order is None or order.member_id != event.member_id:
        raise Unprocessable(f"Member {event.member_id!r} has no order {event.order_id!r}.", code="unknown_order",
                            field="order_id")
    if event.refund_id in order.refund_ids:
        return Outcome(change, reason="refund_already_recorded")
    left = order.amount_fen - order.refunded_fen
    if event.amount_fen > left:
        raise Unprocessable(f"The refund of {event.amount_fen} fen exceeds the {left} fen not yet refunded.",
                            code="refund_exceeds_order", field="amount_fen")
    share = refund_share(order.points, order.amount_fen, order.refunded_fen, event.amount_fen)
    lot = ledger.lot(tenant.tenant_id, event.member_id, LotId("purchase", event.order_id))
    from_pending = min(share, lot.remaining) if lot and lot.state == "pending" else 0
    if from_pending:
        change.add("pending", -from_pending)
        done = lot.remaining == from_pending
        change.lots.append(LotWrite.of(lot, add=-from_pending, set={"state": "cancelled"} if done else {},
                                       clear_due=done))
    rest = share - from_pending
    if rest:
        taken = take_available(change, ledger.lots(tenant.tenant_id, event.member_id), rest, now)
        change.add("debt", rest - sum(taken.values()))
    change.add("cancelled", share)
    entry = _entry(event, change, "refund", event.order_id, -share, day)
    change.entries.append(entry)
    outcome = Outcome(change, granted=-rest, pending=-from_pending, reversed=share)
    outcome.plan.purchase = RecordWrite(event.order_id, version=order.version, fields={
        "refunded_fen": order.refunded_fen + event.amount_fen, "reversed_points": order.reversed_points + share,
        "refund_ids": [*order.refund_ids, event.refund_id]})
    return outcome


def plan_invite(tenant: Tenant, event: PointsEvent, ledger: Ledger, change: MemberChange,
                now: datetime) -> Outcome:
    rules, day = tenant.rules, str(program_day(event.occurred_at, tenant.timezone))
    if ledger.invite(tenant.tenant_id, event.invitee_id) is not None:
        return Outcome(change, reason="already_invited")
    grant, capped = _capped(change, ledger, rules, "invite", day, rules.invite.points)
    invitee = ledger.member(tenant.tenant_id, event.invitee_id)
    lot = LotId("invite", event.invitee_id)
    # Whether the invitee has a settled purchase decides pending or released; the invitee's first
    # settlement bumps its version, so one of the two transactions sees the other.
    state = "released" if invitee.settled_purchase else "pending"
    if grant and state == "released":
        _earn(change, event, rules, tenant.timezone, now, event.invitee_id, day, grant)
    elif grant:
        # Pending until the invitee's first purchase settles (the settle job releases it).
        change.add("pending", grant)
        change.add("earned", grant)
        change.lots.append(LotWrite(lot, add=grant, set={
            "state": "pending", "source_type": "invite", "source_id": event.invitee_id,
            "invitee_id": event.invitee_id, "group_id": event.group_id}))
        change.entries.append(_entry(event, change, "pending", event.invitee_id, grant, day, earned=grant))
    outcome = Outcome(change, granted=grant if state == "released" else 0, pending=0 if state == "released" else grant,
                      capped=capped)
    outcome.plan.invite = RecordWrite.new(Invite(event.invitee_id, event.member_id, lot, grant, state), "invitee_id")
    outcome.plan.unchanged.append(invitee)
    return outcome


def plan_held_invite(tenant: Tenant, event: PointsEvent, ledger: Ledger, change: MemberChange, now: datetime, *,
                     release_at: datetime) -> Outcome:
    """An invite heard as a join through the member's link: pending until `release_at` (the join plus the tenant's
    `invite_hold_days`), when the settle job releases it if the invitee has not left the group meanwhile
    (services/invite_holds.py cancels it then). Still one reward per invitee, whichever way it came."""
    rules, day = tenant.rules, str(program_day(event.occurred_at, tenant.timezone))
    if ledger.invite(tenant.tenant_id, event.invitee_id) is not None:
        return Outcome(change, reason="already_invited")
    grant, capped = _capped(change, ledger, rules, "invite", day, rules.invite.points)
    lot, settle_at = LotId("invite", event.invitee_id), release_at.astimezone(UTC).isoformat()
    if grant:
        change.add("pending", grant)
        change.add("earned", grant)
        change.lots.append(LotWrite(lot, add=grant, due=settle_at, set={
            "state": "pending", "settle_at": settle_at, "source_type": "invite", "source_id": event.invitee_id,
            "invitee_id": event.invitee_id, "group_id": event.group_id}))
        change.entries.append(_entry(event, change, "pending", event.invitee_id, grant, day, earned=grant))
    outcome = Outcome(change, pending=grant, capped=capped, releases_at=settle_at)
    outcome.plan.invite = RecordWrite.new(Invite(event.invitee_id, event.member_id, lot, grant, "pending"),
                                          "invitee_id")
    return outcome


PLANNERS: dict[str, Callable[..., Outcome]] = {
    "checkin": plan_checkin,
    "quiz_answer": plan_quiz,
    "purchase": plan_purchase,
    "purchase_refund": plan_refund,
    "invite": plan_invite,
}


def _replay(stored: EventRecord, event: PointsEvent) -> dict:
    if stored.digest != event.digest():
        raise Conflict(f"Event {event.event_id!r} was already received with different content.",
                       code="idempotency_conflict", field="event_id")
    return {**stored.response, "status": "duplicate"}


def reads_of(tenant: Tenant, event: PointsEvent) -> list[Read]:
    """Every item the event's planner reads, so that one round trip fetches them all."""
    t, m, day = tenant.tenant_id, event.member_id, str(program_day(event.occurred_at, tenant.timezone))
    reads = [Read("event", t, event.event_id), Read.member(t, m)]
    source = {"quiz_answer": "quiz", "purchase_refund": None}.get(event.type, event.type)
    if source:
        reads.append(Read.guard(t, m, Guard.cap(day, source)))
    if event.type == "checkin":
        reads.append(Read.guard(t, m, Guard.checkin(day)))
    elif event.type == "quiz_answer":
        reads.append(Read.guard(t, m, Guard.quiz(event.quiz_id, event.question_id)))
    elif event.type in ("purchase", "purchase_refund"):
        reads += [Read("purchase", t, event.order_id), Read.lot(t, m, LotId("purchase", event.order_id))]
    elif event.type == "invite":
        reads += [Read("invite", t, event.invitee_id), Read.member(t, event.invitee_id)]
    return reads


def apply_event(tenant: Tenant, event: PointsEvent, *, ledger: Ledger, now: datetime,
                planner: Callable[..., Outcome] | None = None) -> dict:
    """Applies one points event exactly once; a repeat of its event_id returns the first result. `planner`
    stands in for the event type's own where qunyun itself hears the event (a join through an invite link)."""
    for attempt in range(MAX_ATTEMPTS):
        sure = attempt > 0  # the first plan reads eventually consistently; a refusal it makes is read again
        ledger.prefetch(reads_of(tenant, event), consistent=sure)
        stored = ledger.event(tenant.tenant_id, event.event_id)
        if stored:  # a retry of an applied event answers as the first time, however late it comes
            ledger.forget()
            return _replay(stored, event)
        if attempt == 0:
            try:
                check_time(event, now)
            except QunyunError:
                ledger.forget()
                raise
        try:
            member = ledger.member(tenant.tenant_id, event.member_id)
            if member.status == "blocked":
                raise Unprocessable(f"Member {event.member_id!r} is blocked and earns no points.",
                                    code="member_blocked")
            change = MemberChange(member)
            if event.nickname and event.nickname != member.nickname:
                change.set["nickname"] = event.nickname
            outcome = (planner or PLANNERS[event.type])(tenant, event, ledger, change, now)
        except Contention:  # what was read moved meanwhile: read it again
            outcome = None
        except QunyunError:
            if sure:
                raise
            continue  # refused from a read that may be a moment old: plan again from a consistent one
        finally:
            ledger.forget()
        if outcome is not None:
            response = outcome.response(event.event_id)
            outcome.plan.event = EventRecord(event.event_id, event.digest(), response)
            try:
                ledger.commit(outcome.plan, now)
                return response
            except Contention:
                pass
        time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise QunyunError("Too many concurrent changes to this member; retry the event.", code="contention",
                      status=409)
