"""A quiz answer as single writes (adapters/points_stage.py), stopped or raced at every step.

What must hold beyond a check-in's case (test_points_stage.py): the question's mark is an item of its own (a mark
per question ever answered would not fit in the member item), taken after the member is staged and before the
event id is claimed, as a purchase takes its order. A question earns once however its answers race; a mark whose
claim never came or went to a twin is released, and the question may be answered again; a mark written by the
earlier code (a transaction's, with no token) still refuses a second answer; every balance reconciles.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from qunyun.adapters import points_keys as keys
from qunyun.adapters import points_stage
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import TABLE, GuardItem
from qunyun.domain.events import PointsEvent
from qunyun.domain.ledger import Guard
from qunyun.services.points import apply_event
from test_ledger_units import IndexUnits
from test_points_races import send, together
from test_points_stage import (
    DAY2,
    Crash,
    a_member,
    answer_lost_once,
    applies_once_from_twenty_clients,
    crash_once,
    entries,
    exact,
    member_of,
    raw_member,
    shop,
)


def answer(member: str, event_id: str, question: str = "1", correct: bool = True) -> PointsEvent:
    return PointsEvent(event_id=event_id, type="quiz_answer", member_id=member, occurred_at=DAY2, quiz_id="night",
                       question_id=question, correct=correct)


def raw_mark(t, member: str = "u1", question: str = "1") -> dict | None:
    pk = keys.member_pk(t.tenant_id, member)
    sk = keys.guard_sk(Guard.quiz("night", question))
    return PointsLedger()._connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                                      ConsistentRead=True).get("Item")


def apply(t, ev: PointsEvent) -> dict:
    return apply_event(t, ev, ledger=PointsLedger(), now=DAY2)


def died_after_taking_the_mark(t, monkeypatch):
    """A member, and its answer to question 1 by a writer that dies after taking the mark, before claiming the
    event id; returns the member as it was before."""
    a_member(t)
    before = member_of(t, "u1")
    died = crash_once(monkeypatch, "_claim")
    with pytest.raises(Crash):
        apply(t, answer("u1", "q-1"))
    assert died and raw_mark(t) is not None
    return before


def test_a_correct_answer_is_staged_and_costs_single_writes(make_tenant):
    # GIVEN a member who checked in yesterday
    t = shop(make_tenant)
    a_member(t)
    ledger = PointsLedger()
    # WHEN it answers tonight's question correctly, each write reporting its units per table and index
    with IndexUnits(ledger) as units:
        first = apply_event(t, answer("u1", "q-1"), ledger=ledger, now=DAY2)
    # THEN it was staged: the member and the question's mark name one token; the points were granted once
    assert first["status"] == "applied" and first["granted"] > 0
    assert raw_mark(t)["token"]["S"] == raw_member(t, "u1")["stage"]["S"]
    assert raw_mark(t)["event_id"]["S"] == "q-1"
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")
    # AND it wrote member (holding the new lot, held_lots.py), mark, claim and entry as single writes of a unit
    # each: 4 units, where its transaction of 5 items (the lot an item) was 10 and 2 more (the entry's board listing
    # and the new lot's due entry, now lines of pages that PageEarnings writes from the stream)
    print(units.writes)
    assert len(units.writes) == 4 and all(w["table"] == 1 for w in units.writes), units.writes
    assert units.by_index() == {"table": 4}
    # AND a replay answers the same; another event for the same question earns nothing
    assert apply(t, answer("u1", "q-1")) == {**first, "status": "duplicate"}
    again = apply(t, answer("u1", "q-2"))
    assert again["status"] == "applied" and again["granted"] == 0 and again["reason"] == "already_answered"
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


def test_a_wrong_answer_is_staged_without_points_and_the_question_stays_answered(make_tenant):
    # GIVEN a member
    t = shop(make_tenant)
    a_member(t)
    ledger = PointsLedger()
    # WHEN it answers wrongly
    with IndexUnits(ledger) as units:
        wrong = apply_event(t, answer("u1", "q-1", correct=False), ledger=ledger, now=DAY2)
    # THEN nothing is granted, and the member, the mark and the claim were written: 3 units
    assert wrong["status"] == "applied" and wrong["granted"] == 0
    assert units.by_index() == {"table": 3}, units.writes
    assert raw_mark(t)["token"]["S"] == raw_member(t, "u1")["stage"]["S"]
    # AND a correct answer to the same question afterwards earns nothing
    assert apply(t, answer("u1", "q-2"))["reason"] == "already_answered"
    assert entries(t, "u1") == ["earn"]
    exact(t, "u1")


def test_a_mark_written_by_a_transaction_of_the_earlier_code_still_refuses_a_second_answer(make_tenant):
    # GIVEN a member whose answer to the question was written by the earlier code: a mark with no token
    t = shop(make_tenant)
    a_member(t)
    GuardItem(keys.member_pk(t.tenant_id, "u1"), keys.guard_sk(Guard.quiz("night", "1"))).save()
    # WHEN it answers that question again, and another one
    # THEN the first earns nothing, the second earns
    assert apply(t, answer("u1", "q-1"))["reason"] == "already_answered"
    assert apply(t, answer("u1", "q-2", question="2"))["granted"] > 0
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


def test_a_writer_that_died_after_taking_the_mark_releases_it_once_stale(make_tenant, monkeypatch):
    # GIVEN an answer whose writer died after taking the question's mark, before claiming the event id
    t = shop(make_tenant)
    before = died_after_taking_the_mark(t, monkeypatch)
    # WHEN, once stale, the member is read
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    after = member_of(t, "u1")
    # THEN its stage was voided and undone, and the mark it had taken released
    assert (after.balance, after.earned, after.held, after.held_lots) == (before.balance, before.earned, before.held,
                                                                          before.held_lots)
    assert raw_mark(t) is None
    # AND the client's retry, under a new event id, earns once
    assert apply(t, answer("u1", "q-2"))["granted"] > 0
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


def test_a_mark_left_by_a_dead_writer_is_released_by_a_reader_of_the_mark_alone(make_tenant, monkeypatch):
    # GIVEN an answer whose writer died after taking the mark, and whose member no reader has settled
    t = shop(make_tenant)
    before = died_after_taking_the_mark(t, monkeypatch)
    # WHEN the mark alone is read once stale
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    # THEN it is no mark: its claim was voided and it was released; the member's stage is undone by its own next
    # reader, since the claim of its token is void
    assert PointsLedger().guard(t.tenant_id, "u1", Guard.quiz("night", "1")) is None and raw_mark(t) is None
    assert "stage" in raw_member(t, "u1")
    after = member_of(t, "u1")
    assert (after.balance, after.earned) == (before.balance, before.earned) and "stage" not in raw_member(t, "u1")
    exact(t, "u1")


def test_a_writer_that_died_after_the_claim_is_rolled_forward_by_the_next_answer(make_tenant, monkeypatch):
    # GIVEN an answer whose writer died after claiming the event id, before writing the lot and the entry
    t = shop(make_tenant)
    a_member(t)
    crash_once(monkeypatch, "roll_forward")
    with pytest.raises(Crash):
        apply(t, answer("u1", "q-1"))
    assert entries(t, "u1") == ["earn"]
    # WHEN the member answers another question
    second = apply(t, answer("u1", "q-2", question="2"))
    # THEN the first answer was finished before the second was planned: both earned, once each
    assert second["granted"] > 0 and entries(t, "u1") == ["earn", "earn", "earn"]
    exact(t, "u1")


def test_a_stalled_writer_whose_question_was_answered_meanwhile_earns_nothing(make_tenant, monkeypatch):
    # GIVEN a writer stalled after its stage, before taking the mark; meanwhile a reader voids its stage and the
    # member answers the same question under another event id
    t = shop(make_tenant)
    a_member(t)
    real, stalled = points_stage._take_mark, {}

    def stall(connection, pk, sk, plan, token, at):
        if not stalled:
            stalled["token"] = token
            monkeypatch.setattr(points_stage, "STALE", timedelta(0))
            stalled["other"] = apply(t, answer("u1", "q-2"))
            monkeypatch.setattr(points_stage, "STALE", timedelta(seconds=5))
        return real(connection, pk, sk, plan, token, at)

    monkeypatch.setattr(points_stage, "_take_mark", stall)
    # WHEN the stalled writer goes on
    late = apply(t, answer("u1", "q-1"))
    # THEN the mark it wanted was taken: its stage was put back, it planned again and earned nothing; the other
    # answer earned, once
    assert stalled["other"]["granted"] > 0
    assert late["status"] == "applied" and late["reason"] == "already_answered"
    assert raw_mark(t)["event_id"]["S"] == "q-2"
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


def test_twenty_answers_to_one_question_at_once_earn_exactly_once(make_tenant):
    # GIVEN a member, and 20 answers to one question at once, each with its own event id
    t = shop(make_tenant)
    a_member(t)
    results = together(*(lambda i=i: send(t, answer("u1", f"q-{i}"), DAY2) for i in range(20)))
    # THEN one earns and 19 are answered "already answered"
    assert Counter(r.get("reason") for r in results) == {None: 1, "already_answered": 19}, results
    assert entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")


def test_one_answer_from_twenty_threads_applies_once_with_one_answer(make_tenant):
    # GIVEN a member, and one answer sent by 20 retrying clients at once
    t = shop(make_tenant)
    a_member(t)
    # THEN one "applied" and 19 "duplicate", each carrying the first answer, and one entry for it
    applies_once_from_twenty_clients(t, answer("u1", "q-1"))


def test_a_mark_put_whose_answer_was_lost_is_known_as_its_own(make_tenant, monkeypatch):
    # GIVEN an answer whose put of the mark lands but whose answer is lost, and the call retried, as botocore
    # retries a call whose connection dropped: the retry is refused by the put's own condition
    t = shop(make_tenant)
    a_member(t)
    lost = answer_lost_once(monkeypatch, lambda written: written.startswith(keys.QUIZ_MARK))
    # WHEN it is applied
    first = apply(t, answer("u1", "q-1"))
    # THEN the writer knew the mark for its own and went on: earned once, the ledger exact
    assert lost and first["granted"] > 0 and entries(t, "u1") == ["earn", "earn"]
    exact(t, "u1")
