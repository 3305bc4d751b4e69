"""SettlePoints writes pieces of work of different members several to a transaction (services/job_batch.py): the
pieces that cannot be written alone (test_lone_pieces.py), such as a settlement that releases an invite, or one whose
member would pass 1 KB with its stage. Here every piece is made to need the transaction (`needs_transactions`), as
such pieces do.

Tried here: a run of many members' settlements and expiries (fewer transactions, each within DynamoDB's 100
items, exact counts and balances); a member with two lots due (its second piece is planned again after the
batch); a batch whose transaction loses a real race to a check-in (written piece by piece, nothing lost or
doubled); a second run for the same time (nothing again).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from points_support import CountingLedger, OnlyTenants
from qunyun.adapters import lone_pieces
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.plan_batch import TRANSACTION_ITEMS, writes
from qunyun.domain.rules import ExpiryRule, PurchaseRule, Rules
from qunyun.services.adjust import reconcile_member
from qunyun.services.points import apply_event
from stream_support import settle  # the stream delivered first: the due pages list what was written

NOW = datetime(2026, 5, 20, 4, 0, tzinfo=UTC)
RULES = Rules(purchase=PurchaseRule(points_per_yuan=1, return_window_days=2),
              expiry=ExpiryRule(policy="rolling_days", days=2))


@pytest.fixture(autouse=True)
def needs_transactions(monkeypatch):
    """Every piece as one that cannot be written alone: it goes into its tenant's batch."""
    monkeypatch.setattr(lone_pieces, "_member_alone", lambda *args: None)


class Watching(CountingLedger):
    """Counts commits, and the members and items of each."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[tuple[int, int]] = []

    def commit(self, plan, now):
        super().commit(plan, now)
        self.sizes.append((len(plan.changes), writes(plan)))


def shop(make_tenant):
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, RULES)
    return TenantRepository().get(fx.tenant_id)


def send(t, kind: str, member: str, at: datetime, **fields) -> dict:
    event = PointsEvent(event_id=f"{kind}-{member}-{fields.get('order_id', '')}-{uuid.uuid4().hex[:6]}",
                        type=kind, member_id=member, occurred_at=at, **fields)
    return apply_event(t, event, ledger=PointsLedger(), now=at)


def run(t, ledger, name: str | None = None) -> dict:
    return settle(NOW, ledger=ledger, tenants=OnlyTenants(t.tenant_id), job_name=name or uuid.uuid4().hex[:8])


def balance(t, member: str) -> dict:
    return dict(PointsLedger().member(t.tenant_id, member).balance)


def forty_and_forty(make_tenant):
    """A shop with 40 members whose purchase is due (p00-p39) and 40 whose check-in lot has expired (c00-c39)."""
    t = shop(make_tenant)
    for i in range(40):
        send(t, "purchase", f"p{i:02d}", NOW - timedelta(days=3), order_id=f"o{i}", amount_fen=1000 + i * 100)
        send(t, "checkin", f"c{i:02d}", NOW - timedelta(days=5))
    return t


def test_many_members_are_settled_and_expired_a_batch_at_a_time(make_tenant):
    # GIVEN 40 members with a purchase due and 40 with a check-in lot that has expired
    t = forty_and_forty(make_tenant)
    # WHEN the run settles them
    ledger = Watching()
    summary = run(t, ledger)
    # THEN every piece is done once, with exact counts
    assert (summary["settled"], summary["points_released"]) == (40, sum(10 + i for i in range(40)))
    assert summary["lots_expired"] == 40
    assert all(balance(t, f"p{i:02d}")["available"] == 10 + i and balance(t, f"p{i:02d}")["pending"] == 0
               for i in range(40))
    assert all(balance(t, f"c{i:02d}")["available"] == 0 for i in range(40))
    assert all(reconcile_member(t.tenant_id, m, ledger=PointsLedger()) == []
               for i in range(40) for m in (f"p{i:02d}", f"c{i:02d}"))
    # AND 80 pieces took a few transactions, none over DynamoDB's limit, each holding many members
    assert sum(members for members, _ in ledger.sizes) == 80
    assert len(ledger.sizes) <= 5, ledger.sizes
    assert all(items <= TRANSACTION_ITEMS for _, items in ledger.sizes), ledger.sizes
    # AND a second run for the same time does nothing again
    name = uuid.uuid4().hex[:8]
    run(t, PointsLedger(), name)
    again = Watching()
    assert run(t, again, name)["repeated"] is True and again.commits == 0


def test_a_member_with_two_lots_due_has_its_second_planned_again_after_the_batch(make_tenant):
    # GIVEN one member with two purchases due, and two other members with one each
    t = shop(make_tenant)
    send(t, "purchase", "twice", NOW - timedelta(days=3), order_id="a", amount_fen=2000)
    send(t, "purchase", "twice", NOW - timedelta(days=3), order_id="b", amount_fen=3000)
    for m in ("x", "y"):
        send(t, "purchase", m, NOW - timedelta(days=3), order_id=f"o-{m}", amount_fen=1000)
    # WHEN the run settles them
    ledger = Watching()
    summary = run(t, ledger)
    # THEN both of its purchases are settled, once each: the first with the others, the second alone after
    assert (summary["settled"], summary["points_released"]) == (4, 70)
    assert balance(t, "twice")["available"] == 50 and balance(t, "twice")["pending"] == 0
    assert sorted(members for members, _ in ledger.sizes) == [1, 3]
    assert reconcile_member(t.tenant_id, "twice", ledger=PointsLedger()) == []


class RacedOnce(Watching):
    """Before its first transaction of several members, one of them checks in through another ledger: a real
    race, which the transaction loses on that member's version."""

    def __init__(self, t, member: str):
        super().__init__()
        self.t, self.racer, self.raced = t, member, False

    def commit(self, plan, now):
        if len(plan.changes) > 1 and not self.raced:
            self.raced = True
            self.answer = send(self.t, "checkin", self.racer, NOW)
        super().commit(plan, now)


def five_due(make_tenant):
    """A shop with five members (m0-m4) whose purchase of 10 points is due."""
    t = shop(make_tenant)
    for i in range(5):
        send(t, "purchase", f"m{i}", NOW - timedelta(days=3), order_id=f"o{i}", amount_fen=1000)
    return t


def settled_once_beside_m2s_checkin(t, summary: dict, answer: dict) -> None:
    """Each of five_due's purchases settled once, and m2's racing check-in applied too, exactly."""
    assert (summary["settled"], summary["points_released"]) == (5, 50)
    checkin = answer["granted"]
    assert answer["status"] == "applied" and checkin > 0
    for i in range(5):
        b = balance(t, f"m{i}")
        assert (b["pending"], b["available"]) == (0, 10 + (checkin if i == 2 else 0))
        assert reconcile_member(t.tenant_id, f"m{i}", ledger=PointsLedger()) == []


def test_a_batch_that_loses_a_race_is_written_piece_by_piece(make_tenant):
    # GIVEN five members with a purchase due
    t = five_due(make_tenant)
    # WHEN one of them checks in while the run's batch is being written
    ledger = RacedOnce(t, "m2")
    summary = run(t, ledger)
    # THEN the batch wrote nothing, and each piece was planned again and written alone: nothing lost or doubled
    assert ledger.raced and [members for members, _ in ledger.sizes] == [1] * 5
    settled_once_beside_m2s_checkin(t, summary, ledger.answer)
