"""A purchase of an existing member as single writes (adapters/points_stage.py), stopped or raced at every step.

What must hold beyond a check-in's case (test_points_stage.py): the order is taken after the member is staged and
before the event is claimed, so that one order earns once even from two events; an order whose claim never came
or went to a twin is released, and another event may then take it; a reader of the order (a second purchase of it,
a refund) never plans from an order that does not stand; every balance reconciles afterwards.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from points_support import OnlyTenants
from qunyun.adapters import points_keys as keys
from qunyun.adapters import points_ledger, points_stage, stages_done
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import TABLE
from qunyun.domain.errors import Conflict, Unprocessable
from qunyun.domain.events import PointsEvent
from qunyun.services.points import apply_event
from stream_support import settle  # the stream delivered first: the due pages list what was written
from test_points_races import send, together
from test_points_stage import (
    DAY2,
    Crash,
    a_member,
    answer_lost_once,
    crash_once,
    entries,
    exact,
    member_of,
    raw_member,
    shop,
)

AFTER_RETURNS = DAY2 + timedelta(days=30)  # past the default return window


def buy(member: str, event_id: str, order_id: str = "o-1", amount_fen: int = 12900) -> PointsEvent:
    return PointsEvent(event_id=event_id, type="purchase", member_id=member, occurred_at=DAY2, order_id=order_id,
                       amount_fen=amount_fen)


def refund(member: str, event_id: str, order_id: str = "o-1", amount_fen: int = 12900) -> PointsEvent:
    return PointsEvent(event_id=event_id, type="purchase_refund", member_id=member, occurred_at=DAY2,
                       order_id=order_id, refund_id=f"r-{event_id}", amount_fen=amount_fen)


def two_members(make_tenant):
    t = shop(make_tenant)
    a_member(t, "u1")
    a_member(t, "u2")
    return t


def died_after_taking_the_order(t, monkeypatch) -> None:
    """u1's purchase of o-1, by a writer that dies after taking the order, before claiming the event id."""
    died = crash_once(monkeypatch, "_claim")
    with pytest.raises(Crash):
        apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2)
    assert died and raw_order(t) is not None


def raw_order(t, order_id: str = "o-1") -> dict | None:
    pk, sk = keys.record_key("purchase", t.tenant_id, order_id)
    return PointsLedger()._connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                                      ConsistentRead=True).get("Item")


def test_a_purchase_of_a_member_is_staged_and_its_order_stands_with_its_claim(make_tenant):
    # GIVEN a member
    t = shop(make_tenant)
    a_member(t)
    # WHEN it buys
    answer = apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2)
    # THEN the purchase was staged (the member and the order name its token), pending points were granted once
    assert answer["status"] == "applied" and answer["pending"] > 0
    token = raw_member(t, "u1")["stage"]["S"]
    assert raw_order(t)["token"]["S"] == token and raw_order(t)["event_id"]["S"] == "p-1"
    assert entries(t, "u1") == ["earn", "pending"]
    assert PointsLedger().order(t.tenant_id, "o-1").member_id == "u1"
    exact(t, "u1")
    # AND a replay answers the same; another event for the same order is refused, as before
    assert apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2) == {**answer, "status": "duplicate"}
    with pytest.raises(Conflict) as err:
        apply_event(t, buy("u1", "p-2"), ledger=PointsLedger(), now=DAY2)
    assert err.value.code == "order_exists"
    # AND the settle job, after the return window, makes the points available; the ledger stays exact
    settle(AFTER_RETURNS, ledger=PointsLedger(), tenants=OnlyTenants(t.tenant_id), job_name="stage-settle")
    assert entries(t, "u1") == ["earn", "pending", "settle"]
    assert member_of(t, "u1").balance["pending"] == 0
    exact(t, "u1")


def test_a_refund_of_a_staged_purchase_reverses_it(make_tenant):
    # GIVEN a staged purchase
    t = shop(make_tenant)
    a_member(t)
    bought = apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2)
    # WHEN it is refunded in full (a transaction, reading the staged order)
    answer = apply_event(t, refund("u1", "r-1"), ledger=PointsLedger(), now=DAY2)
    # THEN its pending points are reversed and the order records the refund
    assert answer["status"] == "applied" and member_of(t, "u1").balance["pending"] == 0
    assert PointsLedger().order(t.tenant_id, "o-1").reversed_points == bought["pending"]
    assert entries(t, "u1") == ["earn", "pending", "refund"]
    exact(t, "u1")


def test_a_writer_that_died_after_taking_the_order_releases_it_once_stale(make_tenant, monkeypatch):
    # GIVEN a purchase whose writer died after taking the order, before claiming the event id
    t = shop(make_tenant)
    a_member(t)
    before = member_of(t, "u1")
    died_after_taking_the_order(t, monkeypatch)
    # WHEN, once stale, the member alone is read
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    after = member_of(t, "u1")
    # THEN its stage was voided and undone, and the order it had taken released
    assert (after.balance, after.earned, after.held) == (before.balance, before.earned, before.held)
    assert raw_order(t) is None
    # AND a refund of that order is answered as for an unknown order
    with pytest.raises(Unprocessable) as err:
        apply_event(t, refund("u1", "r-1"), ledger=PointsLedger(), now=DAY2)
    assert err.value.code == "unknown_order"
    # AND the client's retry of the purchase applies it, once
    answer = apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2)
    assert answer["status"] == "applied" and entries(t, "u1") == ["earn", "pending"]
    exact(t, "u1")


def test_an_order_left_by_a_dead_writer_is_released_when_only_the_order_is_read(make_tenant, monkeypatch):
    # GIVEN a purchase whose writer died after taking the order, and whose member no reader has settled
    t = shop(make_tenant)
    a_member(t)
    died_after_taking_the_order(t, monkeypatch)
    # WHEN the order alone is read once stale
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    # THEN it is no order: its claim was voided and it was released; the member's stage is undone by its next
    # reader, since the claim of its token is void
    assert PointsLedger().order(t.tenant_id, "o-1") is None and raw_order(t) is None
    assert "stage" in raw_member(t, "u1")
    assert member_of(t, "u1").balance["pending"] == 0 and "stage" not in raw_member(t, "u1")
    exact(t, "u1")


def test_an_order_whose_claim_is_young_is_waited_on(make_tenant, monkeypatch):
    # GIVEN a purchase whose writer stalls between taking the order and claiming the event id, while another
    # member's event for the same order reads it
    t = two_members(make_tenant)
    real, seen = points_stage._claim, {}

    def stall(connection, claim, token):
        if not seen and not claim.void:
            seen["waits"] = 0
            waited = points_stage.time.sleep

            def counting(seconds):
                seen["waits"] += 1
                if seen["waits"] == 3:  # the writer goes on while the reader waits
                    seen["claimed"] = real(connection, claim, token)
                waited(seconds)

            monkeypatch.setattr(points_stage.time, "sleep", counting)
            with pytest.raises(Conflict) as err:
                apply_event(t, buy("u2", "p-2"), ledger=PointsLedger(), now=DAY2)
            seen["other"] = err.value.code
            monkeypatch.setattr(points_stage.time, "sleep", waited)
            return seen["claimed"]
        return real(connection, claim, token)

    monkeypatch.setattr(points_stage, "_claim", stall)
    # WHEN the stalled writer goes on
    answer = apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2)
    # THEN the other event waited for the claim, found the order standing and was refused; u1 earned once
    assert seen["waits"] >= 3 and seen["other"] == "order_exists"
    assert answer["status"] == "applied" and entries(t, "u1") == ["earn", "pending"]
    assert entries(t, "u2") == ["earn"]
    exact(t, "u1")
    exact(t, "u2")


def test_an_order_taken_by_another_event_first_undoes_the_stage(make_tenant, monkeypatch):
    # GIVEN two members, and order o-1 sent for u1 and, while u1's stage is written, for u2 by another event
    t = two_members(make_tenant)
    before = member_of(t, "u1")
    real, twin = points_stage._take_order, {}

    def twin_first(connection, plan, token, at, lot):
        if not twin:
            twin["answer"] = None
            twin["answer"] = apply_event(t, buy("u2", "p-2"), ledger=PointsLedger(), now=DAY2)
        return real(connection, plan, token, at, lot)

    monkeypatch.setattr(points_stage, "_take_order", twin_first)
    # WHEN u1's purchase is applied
    with pytest.raises(Conflict) as err:
        apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2)
    # THEN u2 has the order, u1's stage was undone and u1 is refused as for any order recorded before
    assert err.value.code == "order_exists" and twin["answer"]["status"] == "applied"
    assert PointsLedger().order(t.tenant_id, "o-1").member_id == "u2"
    after = member_of(t, "u1")
    assert (after.balance, after.earned, after.held) == (before.balance, before.earned, before.held)
    assert entries(t, "u1") == ["earn"] and entries(t, "u2") == ["earn", "pending"]
    exact(t, "u1")
    exact(t, "u2")


def test_a_twin_that_claims_the_event_first_releases_the_order(make_tenant, monkeypatch):
    # GIVEN event id "e-1" sent as u1's purchase of o-1 and, while u1's stage is written, as u2's purchase of o-2
    t = two_members(make_tenant)
    real, twin = points_stage._claim, {}

    def twin_first(connection, claim, token):
        if not twin:
            twin["answer"] = None
            twin["answer"] = apply_event(t, buy("u2", "e-1", order_id="o-2"), ledger=PointsLedger(), now=DAY2)
        return real(connection, claim, token)

    monkeypatch.setattr(points_stage, "_claim", twin_first)
    # WHEN u1's purchase is applied
    with pytest.raises(Conflict) as err:
        apply_event(t, buy("u1", "e-1"), ledger=PointsLedger(), now=DAY2)
    # THEN u2 has the event; u1's order was released and its stage undone: o-1 may still be bought
    assert err.value.code == "idempotency_conflict" and twin["answer"]["status"] == "applied"
    assert raw_order(t, "o-1") is None and entries(t, "u1") == ["earn"]
    assert apply_event(t, buy("u1", "p-9"), ledger=PointsLedger(), now=DAY2)["status"] == "applied"
    exact(t, "u1")
    exact(t, "u2")


def test_twenty_events_for_one_order_at_once_earn_once(make_tenant):
    # GIVEN two members, and 20 events at once for the same order, each with its own event id, half of them
    # naming the other member
    t = two_members(make_tenant)

    def one(i: int):
        try:
            return send(t, buy(f"u{1 + i % 2}", f"p-{i}"), DAY2)["status"]
        except Conflict as err:
            return err.code

    results = together(*(lambda i=i: one(i) for i in range(20)))
    # THEN one applied and 19 were refused as a recorded order; one pending entry in all; both ledgers exact
    assert Counter(results) == {"applied": 1, "order_exists": 19}
    owner = PointsLedger().order(t.tenant_id, "o-1").member_id
    assert entries(t, owner) == ["earn", "pending"]
    assert entries(t, "u2" if owner == "u1" else "u1") == ["earn"]
    exact(t, "u1")
    exact(t, "u2")


@pytest.mark.parametrize("sk", ["#BALANCE", "#ORDER", "#EVENT"])
def test_a_write_that_landed_but_whose_answer_was_lost_is_known_as_its_own(make_tenant, monkeypatch, sk):
    # GIVEN a purchase whose stage of the member (or order put, or event claim) lands, but whose answer is lost and
    # the call retried, as botocore retries a call whose connection dropped: the retry is refused by the write's
    # own condition
    t = shop(make_tenant)
    a_member(t)
    lost = answer_lost_once(monkeypatch, lambda written: written == sk)
    # WHEN it is applied
    answer = apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2)
    # THEN the writer knew the item for its own and went on, with no one waiting on it: applied once, the order
    # standing, the ledger exact
    assert lost and answer["status"] == "applied" and answer["pending"] > 0
    assert entries(t, "u1") == ["earn", "pending"] and PointsLedger().order(t.tenant_id, "o-1") is not None
    exact(t, "u1")


def test_a_settle_run_reads_what_settles_its_members_stages_together(make_tenant, monkeypatch):
    # GIVEN 30 newcomers whose purchases were staged by another process (the job's own has finished none of them)
    t = shop(make_tenant)
    for i in range(30):
        apply_event(t, buy(f"n{i}", f"p-{i}", order_id=f"o-{i}"), ledger=PointsLedger(), now=DAY2)
    monkeypatch.setattr(stages_done, "_DONE", type(stages_done._DONE)())
    ledger, claim_reads = PointsLedger(), []

    def count(params, model, **_):  # the BatchGetItems that read claims of this tenant, and how many each
        if model.name == "BatchGetItem":
            wanted = [k["pk"]["S"] for table in params["RequestItems"].values() for k in table["Keys"]]
            ours = [pk for pk in wanted if pk.startswith(f"{t.tenant_id}#EV#")]
            if ours:
                claim_reads.append(len(ours))

    ledger._connection.client.meta.events.register("provide-client-params.dynamodb", count)
    # WHEN the settle job runs after the return window (its pages hold other tenants' due lots too)
    settle(AFTER_RETURNS, ledger=ledger, tenants=OnlyTenants(t.tenant_id), job_name="stage-batched")
    # THEN every purchase settled, exactly, and the 30 claims that settle the stages were read with the pages of
    # the due index they came in (4 shards), not one round trip a member
    assert all(entries(t, f"n{i}") == ["pending", "settle"] for i in range(30))
    print("settle run, claims of the tenant read by each BatchGetItem:", claim_reads)
    assert sum(claim_reads) >= 30 and len(claim_reads) <= 8, claim_reads
    for i in range(30):
        exact(t, f"n{i}")


def read_before_its_claim(ledger: PointsLedger, t, event_id: str) -> list[int]:
    """The ledger's next batch of reads sees the event's record as not yet there, as a batch does that reads it the
    instant before the claim and the order the instant after (a BatchGetItem is not one instant)."""
    read, seen = ledger._read, []
    claim = keys.record_key("event", t.tenant_id, event_id)

    def early(wanted, consistent=True):
        found = read(wanted, consistent)
        if claim in found and not seen:
            seen.append(1)
            return {**found, claim: None}
        return found

    ledger._read = early
    return seen


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "transaction"])
def test_a_retry_that_reads_its_order_before_its_record_answers_as_the_first_time(make_tenant, monkeypatch, staged):
    # GIVEN a purchase recorded (staged, or as one transaction), its order naming its event
    t = shop(make_tenant)
    a_member(t)
    if not staged:
        monkeypatch.setattr(points_ledger, "stageable", lambda plan: False)
    answer = apply_event(t, buy("u1", "p-1"), ledger=PointsLedger(), now=DAY2)
    assert raw_order(t)["event_id"]["S"] == "p-1" and ("token" in raw_order(t)) == staged
    # WHEN its retry reads the order but misses its own record (read the instant before it was written)
    ledger = PointsLedger()
    seen = read_before_its_claim(ledger, t, "p-1")
    again = apply_event(t, buy("u1", "p-1"), ledger=ledger, now=DAY2)
    # THEN it reads again and answers as the first time, not "order recorded by another event"
    assert seen and again == {**answer, "status": "duplicate"}
    # AND another event for the order, read the same way, is still refused
    seen = read_before_its_claim(ledger, t, "p-2")
    with pytest.raises(Conflict) as err:
        apply_event(t, buy("u1", "p-2"), ledger=ledger, now=DAY2)
    assert seen and err.value.code == "order_exists"
    assert entries(t, "u1") == ["earn", "pending"]
    exact(t, "u1")
