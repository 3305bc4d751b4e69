"""An event id and a request id are the tenant's, not a member's: the guarantee any ledger layout must keep.

reference/ledger.md 7 and 9, API.md: the same id with other content is a 409 however the content differs, and
concurrent duplicates execute exactly once. "Other content" includes another member, so the record that claims
an id cannot live under the member it names (docs/ledger.md, "The event record and the entry as one item"):
these tests fail for a layout that keeps an event's or a redemption's idempotency record in the member's
partition (its entry or its member item), where a second member would never see the first one's claim.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import Conflict
from qunyun.domain.events import PointsEvent
from qunyun.domain.mall import RedemptionRequest, Reward
from qunyun.services.adjust import adjust
from qunyun.services.mall import add_rewards, redeem
from qunyun.services.points import apply_event
from stream_support import reconciled  # the stream delivered first: the member pages list every member

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def checkin(event_id: str, member: str) -> PointsEvent:
    return PointsEvent(event_id=event_id, type="checkin", member_id=member, occurred_at=T0, group_id="g-1")


def ask(request_id: str, member: str) -> RedemptionRequest:
    return RedemptionRequest(request_id=request_id, member_id=member, reward_id="mug", quantity=1)


def together(calls: list) -> list:
    """Runs each call on its own thread, released at once; returns each result or the exception it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except Conflict as err:
            return err

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def shop(make_tenant, members: tuple[str, ...] = ()):
    t = TenantRepository().get(make_tenant().tenant_id)
    ledger = PointsLedger()
    add_rewards(t, [Reward(id="mug", name="Mug", cost=100, stock=10)], ledger=ledger, now=T0)
    for member in members:
        adjust(t, member, 500, "test grant", ledger=ledger, now=T0)
    return t, ledger


def test_an_event_id_sent_again_for_another_member_is_refused_and_writes_nothing(make_tenant):
    # GIVEN a check-in applied for u1
    t, ledger = shop(make_tenant)
    first = apply_event(t, checkin("e-1", "u1"), ledger=ledger, now=T0)
    # WHEN the same event id comes for u2
    with pytest.raises(Conflict) as err:
        apply_event(t, checkin("e-1", "u2"), ledger=ledger, now=T0)
    # THEN it is a conflict, u2 is no member and u1 is as the first answer left it
    assert (err.value.status, err.value.code) == (409, "idempotency_conflict")
    assert not ledger.member(t.tenant_id, "u2").exists
    assert list(ledger.all_entries(t.tenant_id, "u2")) == []
    assert ledger.member(t.tenant_id, "u1").balance["available"] == first["balance"]["available"] == 5


def test_one_event_id_raced_for_two_members_is_applied_once(make_tenant):
    t, _ = shop(make_tenant)
    made: list[str] = []
    for round_ in range(4):
        # GIVEN one event id sent at once for two members (each through its own ledger, like two Lambdas)
        event_id = f"e-{round_}"
        calls = [lambda m=m, e=event_id: apply_event(t, checkin(e, m), ledger=PointsLedger(), now=T0)
                 for m in (f"a{round_}", f"b{round_}")]
        # WHEN both run
        results = together(calls)
        # THEN exactly one is applied and the other is the conflict; only the applied one's member earned
        applied = [r for r in results if isinstance(r, dict)]
        assert len(applied) == 1 and applied[0]["status"] == "applied", results
        assert sum(isinstance(r, Conflict) and r.code == "idempotency_conflict" for r in results) == 1
        ledger = PointsLedger()
        earned = {m: ledger.member(t.tenant_id, m).earned for m in (f"a{round_}", f"b{round_}")}
        assert sorted(earned.values()) == [0, 5], earned
        made += [m for m, n in earned.items() if n]
    # AND the tenant's members are the four who earned, each balance equal to its entries
    assert reconciled(t.tenant_id) == dict.fromkeys(sorted(made), [])


def test_a_request_id_sent_again_for_another_member_is_refused_and_spends_nothing(make_tenant):
    # GIVEN a redemption placed for u1, and u2 with points enough
    t, ledger = shop(make_tenant, ("u1", "u2"))
    placed = redeem(t, ask("rq-1", "u1"), ledger=ledger, now=T0)
    assert placed.status == 201
    # WHEN the same request id comes for u2
    with pytest.raises(Conflict) as err:
        redeem(t, ask("rq-1", "u2"), ledger=ledger, now=T0)
    # THEN it is a conflict: u2 spent nothing and the stock moved once
    assert (err.value.status, err.value.code) == (409, "idempotency_conflict")
    assert ledger.member(t.tenant_id, "u2").balance["spent"] == 0
    assert [e.kind for e in ledger.all_entries(t.tenant_id, "u2")] == ["adjust"]
    assert sum(ledger.stock(t.tenant_id, "mug", 1).values()) == 9


def test_one_request_id_raced_for_two_members_places_one_order(make_tenant):
    t, _ = shop(make_tenant, ("u1", "u2"))
    # GIVEN one request id sent at once for two members; WHEN both run
    results = together([lambda m=m: redeem(t, ask("rq-1", m), ledger=PointsLedger(), now=T0) for m in ("u1", "u2")])
    # THEN one order is placed and the other is the conflict (or, had it come second, the same conflict)
    placed = [r for r in results if not isinstance(r, Conflict)]
    assert [r.status for r in placed] == [201], results
    ledger = PointsLedger()
    assert sorted(ledger.member(t.tenant_id, m).balance["spent"] for m in ("u1", "u2")) == [0, 100]
    assert sum(ledger.stock(t.tenant_id, "mug", 1).values()) == 9
    assert reconciled(t.tenant_id) == {"u1": [], "u2": []}
