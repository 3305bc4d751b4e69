"""The points ledger against a small pure reference model (reference/ledger.md, "How the best systems prove it").

A Hypothesis state machine drives check-ins, quiz answers, purchases, refunds, invites, adjustments, clock
moves and SettlePoints runs against DynamoDB Local, and keeps its own model of what every member must hold:
balance parts, `earned`, streaks, available lots keyed by expiry, pending orders with their settle times,
cumulative refund shares, debt, invite rewards, the day caps and the clock. After every step each member's
balance, earned total, streak and lots must equal the model's, `reconcile_member` must find nothing, and
`member_view` must show lots past expiry as expired.

The model is written from DESIGN.md §5 and API.md §2, not from the code. One thing is legitimately open in a
settle run: a lot that receives points during the run while already past its expiry may or may not be
expired by that same run (it depends on where the due index pages end), and when a member in debt receives
several credits in one run, which lot the debt repayment comes out of depends on the order the run meets
them. For those the model checks every total exactly, bounds each lot, and then takes the stored outcome.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from points_support import OnlyTenants
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import Conflict, NotFound
from qunyun.domain.events import PointsEvent
from qunyun.domain.rules import CheckinRule, ExpiryRule, InviteRule, PurchaseRule, QuizRule, Rules
from qunyun.services.adjust import adjust, reconcile_member
from qunyun.services.members import member_view
from qunyun.services.points import apply_event
from qunyun.services.tenants import create_tenant
from stream_support import settle  # the stream delivered first: the due pages list what was written

PARTS = ("available", "pending", "spent", "expired", "cancelled", "written_off", "debt")
MEMBERS = ("u1", "u2", "u3")
OUTSIDERS = ("n1", "n2")  # invitees who never send an event themselves
TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
START = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
WEEK = 7 * 86400

CHECKIN_BASE, STREAK_STEP, STREAK_MAX, WEEKLY = 5, 2, 6, 10
QUIZ_POINTS, PER_YUAN, WINDOW_DAYS, INVITE_POINTS, ROLLING_DAYS = 10, 2, 2, 30, 2
CAPS = {"checkin": 10, "quiz": 25, "purchase": 300, "invite": 45}
RULES = Rules(
    checkin=CheckinRule(base=CHECKIN_BASE, streak_step=STREAK_STEP, streak_max_bonus=STREAK_MAX, weekly_bonus=WEEKLY),
    quiz=QuizRule(points_per_correct=QUIZ_POINTS),
    purchase=PurchaseRule(points_per_yuan=PER_YUAN, return_window_days=WINDOW_DAYS),
    invite=InviteRule(points=INVITE_POINTS),
    daily_caps=CAPS,
    expiry=ExpiryRule(policy="rolling_days", days=ROLLING_DAYS),
)


SEEN: Counter[str] = Counter()  # what the runs exercised, printed with -s


def note(label: str) -> None:
    SEEN[label] += 1
    event(label)


# ---- the reference model ------------------------------------------------------------------------------------
def local_day(at: datetime) -> date:
    return at.astimezone(ZONE).date()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def rolling_expiry(available_at: datetime) -> str:
    """Points available on local day D may be spent through day D+ROLLING_DAYS; gone at the next midnight."""
    end = datetime.combine(local_day(available_at) + timedelta(days=ROLLING_DAYS + 1), time(0), ZONE)
    return iso(end)


def checkin_award(streak: int) -> int:
    bonus = min(STREAK_STEP * (streak - 1), STREAK_MAX)
    return CHECKIN_BASE + bonus + (WEEKLY if streak % 7 == 0 else 0)


@dataclass
class Member:
    exists: bool = False
    bal: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PARTS, 0))
    earned: int = 0
    streak: int = 0
    last: date | None = None
    days: set[date] = field(default_factory=set)
    answered: set[tuple[str, str]] = field(default_factory=set)
    caps: dict[tuple[date, str], int] = field(default_factory=dict)
    lots: dict[str, int] = field(default_factory=dict)  # expires_at -> available points in that lot
    settled_purchase: bool = False

    def capped(self, day: date, source: str, requested: int) -> tuple[int, bool]:
        room = max(CAPS[source] - self.caps.get((day, source), 0), 0)
        grant = min(requested, room)
        self.caps[(day, source)] = self.caps.get((day, source), 0) + grant
        return grant, grant < requested

    def credit(self, points: int, expires: str) -> None:
        repaid = min(points, self.bal["debt"])
        self.bal["debt"] -= repaid
        if points - repaid:
            self.bal["available"] += points - repaid
            self.lots[expires] = self.lots.get(expires, 0) + points - repaid

    def earn(self, points: int, expires: str) -> None:
        self.earned += points
        self.credit(points, expires)

    def take(self, points: int, now: datetime) -> int:
        """Takes up to `points` from unexpired lots, soonest-expiring first; returns what it took."""
        left = points
        for expires in sorted(self.lots):
            if left == 0:
                break
            if datetime.fromisoformat(expires) <= now or self.lots[expires] <= 0:
                continue
            use = min(self.lots[expires], left)
            self.lots[expires] -= use
            left -= use
        self.bal["available"] -= points - left
        return points - left

    def live_lots(self) -> dict[str, int]:
        return {x: r for x, r in self.lots.items() if r > 0}


@dataclass
class Order:
    order_id: str
    member_id: str
    amount: int
    points: int
    settle_at: datetime
    refunded: int = 0
    reversed: int = 0
    pending: int = 0  # what its pending lot still holds
    state: str | None = None  # pending | settled | cancelled; None when it earned nothing


@dataclass
class Invite:
    inviter: str
    points: int
    state: str  # pending | released


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.tid = "m-" + uuid.uuid4().hex[:12]
        repo = TenantRepository()
        create_tenant(self.tid, "Model Tea", TZ, tenants=repo, secrets=secret_store())
        repo.set_rules(self.tid, RULES)
        self.tenant = repo.get(self.tid)
        assert self.tenant.rules == RULES
        self.ledger = PointsLedger()
        self.tenants = OnlyTenants(self.tid)
        self.now = START
        self.members = {m: Member() for m in (*MEMBERS, *OUTSIDERS)}
        self.orders: dict[str, Order] = {}
        self.invites: dict[str, Invite] = {}
        self.runs: dict[str, dict] = {}
        self.sent: list[tuple[PointsEvent, dict]] = []
        self.seq = 0

    # ---- helpers ------------------------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}{self.seq}"

    def send(self, **fields) -> dict:
        event = PointsEvent(event_id=self.next_id("e"), **fields)
        response = apply_event(self.tenant, event, ledger=self.ledger, now=self.now)
        self.sent.append((event, response))
        self.members[event.member_id].exists = True
        return response

    def expect(self, response: dict, member_id: str, granted: int = 0, pending: int = 0, capped: bool = False,
               reason: str | None = None, **extra) -> None:
        assert response["status"] == "applied"
        got = (response["granted"], response["pending"], response["capped"], response.get("reason"))
        assert got == (granted, pending, capped, reason), response
        assert response["balance"] == self.members[member_id].bal, response
        for key, value in extra.items():
            assert response[key] == value, (key, response)

    # ---- rules --------------------------------------------------------------------------------------------
    @initialize(start=st.integers(0, 2 * 86400))
    def start_clock(self, start):
        self.now = START + timedelta(seconds=start)

    @rule(member_id=st.sampled_from(MEMBERS), back=st.one_of(st.just(0), st.integers(0, 3600), st.integers(0, WEEK)))
    def checkin(self, member_id, back):
        # GIVEN a check-in that happened up to 7 days ago; WHEN it arrives now
        at = self.now - timedelta(seconds=back)
        day, m = local_day(at), self.members[member_id]
        response = self.send(type="checkin", member_id=member_id, occurred_at=at)
        # THEN once per program-day, a streak that grows after yesterday and resets after a gap, day cap
        if day in m.days:
            return self.expect(response, member_id, reason="already_checked_in")
        m.days.add(day)
        late = m.last is not None and day <= m.last
        if late:  # a late check-in for an earlier day earns the base and leaves the streak alone
            streak, requested = m.streak, CHECKIN_BASE
        else:
            streak = m.streak + 1 if m.last == day - timedelta(days=1) else 1
            requested = checkin_award(streak)
            m.streak, m.last = streak, day
        grant, capped = m.capped(day, "checkin", requested)
        note(f"checkin: late={late} capped={capped} streak>=3={streak >= 3}")
        if grant:
            m.earn(grant, rolling_expiry(self.now))
        self.expect(response, member_id, granted=grant, capped=capped, streak=streak)

    @rule(member_id=st.sampled_from(MEMBERS), quiz=st.sampled_from(("q1", "q2")), question=st.sampled_from("abc"),
          correct=st.booleans(), back=st.integers(0, 2 * 86400))
    def quiz_answer(self, member_id, quiz, question, correct, back):
        at = self.now - timedelta(seconds=back)
        m = self.members[member_id]
        response = self.send(type="quiz_answer", member_id=member_id, occurred_at=at, quiz_id=quiz,
                             question_id=question, correct=correct)
        # THEN points once per question, for a correct answer, within the day cap
        if (quiz, question) in m.answered:
            return self.expect(response, member_id, reason="already_answered")
        m.answered.add((quiz, question))
        grant, capped = m.capped(local_day(at), "quiz", QUIZ_POINTS) if correct else (0, False)
        if grant:
            m.earn(grant, rolling_expiry(self.now))
        self.expect(response, member_id, granted=grant, capped=capped)

    @rule(member_id=st.sampled_from(MEMBERS), amount=st.integers(1, 20_000), back=st.integers(0, WEEK))
    def purchase(self, member_id, amount, back):
        at = self.now - timedelta(seconds=back)
        m, order_id = self.members[member_id], self.next_id("o")
        response = self.send(type="purchase", member_id=member_id, occurred_at=at, order_id=order_id,
                             amount_fen=amount)
        # THEN whole yuan × points_per_yuan, cut to the day cap, pending until the return window ends
        grant, capped = m.capped(local_day(at), "purchase", amount // 100 * PER_YUAN)
        note(f"purchase: capped={capped}")
        settle_at = at + timedelta(days=WINDOW_DAYS)
        order = self.orders[order_id] = Order(order_id, member_id, amount, grant, settle_at)
        if grant:
            m.bal["pending"] += grant
            m.earned += grant
            order.pending, order.state = grant, "pending"
        self.expect(response, member_id, pending=grant, capped=capped, settles_at=iso(settle_at))

    def refundable(self) -> list[str]:
        return sorted(o.order_id for o in self.orders.values() if o.refunded < o.amount)

    @precondition(lambda self: self.refundable())
    @rule(data=st.data(), back=st.integers(0, 3600))
    def refund(self, data, back):
        order = self.orders[data.draw(st.sampled_from(self.refundable()), label="order")]
        left = order.amount - order.refunded
        amount = data.draw(st.one_of(st.just(left), st.integers(1, left)), label="refund_fen")
        m = self.members[order.member_id]
        response = self.send(type="purchase_refund", member_id=order.member_id, order_id=order.order_id,
                             refund_id=self.next_id("r"), amount_fen=amount,
                             occurred_at=self.now - timedelta(seconds=back))
        # THEN cumulative floor(points × refunded / amount): pending first, then available lots, then debt
        share = (order.points * (order.refunded + amount) // order.amount
                 - order.points * order.refunded // order.amount)
        order.refunded += amount
        order.reversed += share
        from_pending = min(share, order.pending) if order.state == "pending" else 0
        if from_pending:
            order.pending -= from_pending
            m.bal["pending"] -= from_pending
            if order.pending == 0:
                order.state = "cancelled"
        rest = share - from_pending
        taken = m.take(rest, self.now)
        m.bal["debt"] += rest - taken
        note(f"refund: from_pending={bool(from_pending)} from_available={bool(taken)} to_debt={rest > taken}")
        m.bal["cancelled"] += share
        self.expect(response, order.member_id, granted=-rest, pending=-from_pending, reversed=share)
        if order.refunded == order.amount:  # every part of an order together reverses exactly what it earned
            assert order.reversed == order.points

    @rule(inviter=st.sampled_from(MEMBERS), invitee=st.sampled_from((*MEMBERS, *OUTSIDERS)), back=st.integers(0, 3600))
    def invite(self, inviter, invitee, back):
        if inviter == invitee:
            return
        at = self.now - timedelta(seconds=back)
        m = self.members[inviter]
        response = self.send(type="invite", member_id=inviter, invitee_id=invitee, occurred_at=at)
        # THEN one reward per invitee: available at once when the invitee already has a settled purchase,
        # pending until that purchase settles otherwise
        if invitee in self.invites:
            return self.expect(response, inviter, reason="already_invited")
        grant, capped = m.capped(local_day(at), "invite", INVITE_POINTS)
        released = self.members[invitee].settled_purchase
        note(f"invite: released at once={released} capped={capped}")
        self.invites[invitee] = Invite(inviter, grant, "released" if released else "pending")
        if released:
            if grant:
                m.earn(grant, rolling_expiry(self.now))
            return self.expect(response, inviter, granted=grant, capped=capped)
        m.bal["pending"] += grant
        m.earned += grant
        self.expect(response, inviter, pending=grant, capped=capped)

    @rule(member_id=st.sampled_from(MEMBERS), points=st.integers(-80, 80).filter(bool))
    def adjust(self, member_id, points):
        m = self.members[member_id]
        if points < 0 and not m.exists:
            with pytest.raises(NotFound):
                adjust(self.tenant, member_id, points, "model", ledger=self.ledger, now=self.now)
            return
        response = adjust(self.tenant, member_id, points, "model", ledger=self.ledger, now=self.now,
                          adjustment_id=self.next_id("adj"))
        m.exists = True
        # THEN +N is earned (repaying debt first); −N takes unexpired lots, soonest first, the rest is debt
        if points > 0:
            m.earn(points, rolling_expiry(self.now))
        else:
            m.bal["written_off"] -= points
            m.bal["debt"] += -points - m.take(-points, self.now)
            note(f"adjust: into debt={m.bal['debt'] > 0}")
        assert response["balance"] == m.bal

    def resendable(self) -> list[int]:
        return [i for i, (e, _) in enumerate(self.sent) if e.occurred_at >= self.now - WEEK * timedelta(seconds=1)]

    @precondition(lambda self: self.resendable())
    @rule(data=st.data(), changed=st.booleans())
    def resend(self, data, changed):
        # GIVEN an event already applied; WHEN it is sent again, as it was or with other content
        event, first = self.sent[data.draw(st.sampled_from(self.resendable()), label="event")]
        if changed:
            other = event.model_copy(update={"nickname": "someone else"})
            with pytest.raises(Conflict) as err:
                apply_event(self.tenant, other, ledger=self.ledger, now=self.now)
            assert (err.value.status, err.value.code) == (409, "idempotency_conflict")
        else:  # THEN the first answer, marked duplicate, and nothing moves
            again = apply_event(self.tenant, event, ledger=self.ledger, now=self.now)
            assert again == {**first, "status": "duplicate"}

    @rule(seconds=st.one_of(st.just(86400), st.integers(1, 48).map(lambda h: h * 3600),
                            st.integers(2, 21).map(lambda d: d * 86400), st.integers(1, 3 * 86400)),
          and_settle=st.booleans())
    def advance(self, seconds, and_settle):
        # GIVEN time passes (an hour to three weeks), after which SettlePoints may run
        self.now += timedelta(seconds=seconds)
        if and_settle:
            self.settle()

    def boundaries(self) -> list[datetime]:
        """The next instants where something changes: settle times of pending orders and lot expiries."""
        points = [o.settle_at for o in self.orders.values() if o.state == "pending"]
        points += [datetime.fromisoformat(x) for m in self.members.values() for x, r in m.lots.items() if r > 0]
        return sorted(p for p in set(points) if p - timedelta(seconds=1) > self.now)

    @rule(who=st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=3, unique=True),
          late=st.one_of(st.none(), st.tuples(st.sampled_from(MEMBERS), st.integers(86400, WEEK))),
          hour=st.integers(0, 23), second=st.integers(0, 3599), and_settle=st.booleans())
    def next_day(self, who, late, hour, second, and_settle):
        # GIVEN the next program-day begins; WHEN some members check in at some time of it (streaks grow),
        # and maybe one check-in of an earlier day arrives late
        tomorrow = datetime.combine(local_day(self.now) + timedelta(days=1), time(hour), ZONE)
        self.now = (tomorrow + timedelta(seconds=second)).astimezone(UTC)
        if and_settle:
            self.settle()
        for member_id in who:
            self.checkin(member_id, 0)
        if late:
            self.checkin(*late)

    @precondition(lambda self: self.boundaries())
    @rule(data=st.data(), nudge=st.sampled_from((-1, 0, 1)), and_settle=st.booleans())
    def advance_to_boundary(self, data, nudge, and_settle):
        # GIVEN the clock one second before, at or one second after a settle time or an expiry
        self.now = data.draw(st.sampled_from(self.boundaries()[:3]), label="boundary") + timedelta(seconds=nudge)
        if and_settle:
            self.settle()

    @rule()
    def settle(self):
        key = self.now.isoformat()
        summary = settle(self.now, ledger=self.ledger, tenants=self.tenants, job_name=f"model-{self.tid}")
        if key in self.runs:  # THEN a second run for the same scheduled time repeats its summary, does nothing
            assert summary == {**self.runs[key], "repeated": True}
            return
        assert "repeated" not in summary
        self.runs[key] = summary
        self.settle_model(summary)

    # ---- the settle run in the model ----------------------------------------------------------------------
    def settle_model(self, summary: dict) -> None:
        now = self.now
        before = {mid: (dict(m.bal), dict(m.lots)) for mid, m in self.members.items()}
        credits: dict[str, list[tuple[str, int]]] = {mid: [] for mid in self.members}
        expected = {"settled": 0, "points_released": 0, "invites_released": 0}
        due = [o for o in self.orders.values() if o.state == "pending" and o.settle_at <= now]
        # Pending points whose window ended become available, with an expiry counted from the settle time; a
        # member's first settled purchase releases the reward of whoever invited them.
        for order in sorted(due, key=lambda o: (iso(o.settle_at), f"P#purchase#{o.order_id}")):
            m = self.members[order.member_id]
            m.bal["pending"] -= order.pending
            credits[order.member_id].append((rolling_expiry(order.settle_at), order.pending))
            expected["settled"] += 1
            expected["points_released"] += order.pending
            order.pending, order.state = 0, "settled"
            if m.settled_purchase:
                continue
            m.settled_purchase = True
            invite = self.invites.get(order.member_id)
            if invite and invite.state == "pending":
                invite.state = "released"
                if invite.points:
                    self.members[invite.inviter].bal["pending"] -= invite.points
                    credits[invite.inviter].append((rolling_expiry(order.settle_at), invite.points))
                    expected["invites_released"] += 1
        assert {k: summary[k] for k in expected} == expected, summary
        note(f"settle: released={bool(expected['settled'])} invites={bool(expected['invites_released'])}")

        points_expired, must_expire, may_expire = 0, 0, 0
        for mid in MEMBERS:
            m, (bal0, lots0) = self.members[mid], before[mid]
            for expires, points in credits[mid]:
                m.credit(points, expires)
            gone = [x for x in m.lots if datetime.fromisoformat(x) <= now and m.lots[x] > 0]
            credited = {x for x, _ in credits[mid]}
            must_expire += sum(1 for x in gone if lots0.get(x, 0) > 0)
            may_expire += sum(1 for x in gone if lots0.get(x, 0) <= 0)
            for x in gone:
                m.bal["expired"] += m.lots[x]
                m.bal["available"] -= m.lots[x]
                m.lots[x] = 0
            self.take_stored_outcome(mid, lots0, bal0["debt"], credits[mid], credited)
            points_expired += m.bal["expired"] - bal0["expired"]
        assert summary["points_expired"] == points_expired, summary
        note(f"settle: expired={bool(points_expired)}")
        assert must_expire <= summary["lots_expired"] <= must_expire + may_expire, summary

    def take_stored_outcome(self, mid: str, lots0: dict[str, int], debt0: int, credits: list[tuple[str, int]],
                            credited: set[str]) -> None:
        """Checks the run's outcome for one member where the order of its work is open, then adopts it."""
        m, now = self.members[mid], self.now
        stored = self.ledger.member(self.tid, mid)
        got = {p: int(stored.balance[p]) for p in PARTS}
        for part in ("pending", "spent", "cancelled", "written_off", "debt"):
            assert got[part] == m.bal[part], (mid, part, got, m.bal)
        assert got["available"] + got["expired"] == m.bal["available"] + m.bal["expired"], (mid, got, m.bal)
        lots = {lot.expires_at: lot.remaining for lot in self.ledger.lots(self.tid, mid)
                if lot.state == "available" and lot.remaining > 0}
        gross = {}
        for expires, points in credits:
            gross[expires] = gross.get(expires, 0) + points
        for expires, remaining in lots.items():
            if datetime.fromisoformat(expires) <= now:  # only points credited in this run may outlive it
                assert expires in credited and remaining <= gross[expires], (mid, expires, lots, credits)
            else:
                assert lots0.get(expires, 0) <= remaining <= lots0.get(expires, 0) + gross.get(expires, 0), (
                    mid, expires, lots, lots0, credits)
        if len(credited) <= 1 or not debt0:  # with no debt to repay, every lot not yet expired is exact
            for expires in set(lots) | set(m.live_lots()):
                if datetime.fromisoformat(expires) > now:
                    assert lots.get(expires, 0) == m.lots.get(expires, 0), (mid, expires, lots, m.lots)
        for expires in set(lots) | set(m.live_lots()):
            if lots.get(expires, 0) != m.lots.get(expires, 0):
                past = datetime.fromisoformat(expires) <= now
                note(f"settle: stored outcome taken ({'lot past expiry credited in the run' if past else 'debt'})")
        m.lots = dict(lots)
        m.bal["available"], m.bal["expired"] = got["available"], got["expired"]

    # ---- after every step ---------------------------------------------------------------------------------
    @invariant()
    def dynamodb_matches_the_model(self):
        SEEN["steps checked"] += 1
        for mid in MEMBERS:
            m = self.members[mid]
            assert m.earned == sum(v for p, v in m.bal.items() if p != "debt") - m.bal["debt"]
            assert min(m.bal.values()) >= 0, m.bal
            stored = self.ledger.member(self.tid, mid)
            assert stored.exists == m.exists, mid
            assert {p: int(stored.balance[p]) for p in PARTS} == m.bal, (mid, stored.balance, m.bal)
            assert stored.earned == m.earned, mid
            assert (stored.streak_days, stored.last_checkin) == (m.streak, m.last), mid
            assert reconcile_member(self.tid, mid, ledger=self.ledger) == [], mid
            lots = {lot.expires_at: lot.remaining for lot in self.ledger.lots(self.tid, mid)
                    if lot.state == "available" and lot.remaining > 0}
            assert lots == m.live_lots(), (mid, lots, m.lots)
            if m.exists:  # a lot past expiry is shown as expired before any run has expired it
                late = sum(r for x, r in m.lots.items() if datetime.fromisoformat(x) <= self.now)
                view = member_view(self.tid, mid, ledger=self.ledger, now=self.now)["balance"]
                assert view == {**m.bal, "available": m.bal["available"] - late, "expired": m.bal["expired"] + late}


def test_the_ledger_matches_its_model(ddb):
    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=20, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))
    print("\n".join(f"{n:5} {label}" for label, n in sorted(SEEN.items())))
