"""A settle run's pieces of one member written without a transaction (adapters/lone_pieces.py), their counts added
a window at a time (services/job_batch.py `Tally`), against DynamoDB Local.

Tried here: many members' settlements and expiries are each their member's single write, none in a transaction,
with exact counts and balances; a piece whose member moved between its plan and its write is planned again and
counted once; a window's counts written twice are added once; a start of a run that a later start has followed
stops counting (Preempted) and cannot mark the run done, and the later start counts what the earlier one wrote and
never counted. Every stop of a run between its writes is in test_points_crash.py; two starts at once in
test_points_races.py."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.domain.ledger import JobRun, Preempted
from qunyun.services.adjust import reconcile_member
from test_ledger_units import Units
from test_settle_batches import (
    NOW,
    balance,
    five_due,
    forty_and_forty,
    run,
    send,
    settled_once_beside_m2s_checkin,
    shop,
)


class Counting(PointsLedger):
    """Counts the batches of pieces written alone and the windows counted."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[list[str]] = []
        self.windows: list[dict] = []

    def commit_pieces(self, plans, now, window):
        outcomes = super().commit_pieces(plans, now, window)
        self.pieces.append(outcomes)
        return outcomes

    def count(self, run, start, window, counters):
        super().count(run, start, window, counters)
        self.windows.append(counters)


def test_many_members_are_settled_and_expired_each_by_a_single_write(make_tenant):
    # GIVEN 40 members with a purchase due and 40 with a check-in lot that has expired
    t = forty_and_forty(make_tenant)
    # WHEN the run settles them
    ledger = Counting()
    with Units(ledger) as units:
        summary = run(t, ledger)
    # THEN every piece is done once, with exact counts and balances
    assert (summary["settled"], summary["points_released"]) == (40, sum(10 + i for i in range(40)))
    assert (summary["lots_expired"], summary["points_expired"]) == (40, 40 * balance_of_a_checkin(t))
    assert all(balance(t, f"p{i:02d}")["available"] == 10 + i and balance(t, f"p{i:02d}")["pending"] == 0
               for i in range(40))
    assert all(balance(t, f"c{i:02d}")["available"] == 0 for i in range(40))
    assert all(reconcile_member(t.tenant_id, m, ledger=PointsLedger()) == []
               for i in range(40) for m in (f"p{i:02d}", f"c{i:02d}"))
    # AND each of the 80 pieces was written alone, in a few batches, its counts in one window (the run's one full
    # flush closes it: a unit for every batch until then); the only transaction is the day's boards' mark (two items)
    assert sum(outcomes.count("written") for outcomes in ledger.pieces) == 80 and len(ledger.pieces) <= 5
    assert len(ledger.pieces) > 1
    assert [w.get("settled", 0) + w.get("lots_expired", 0) for w in ledger.windows] == [80]
    assert [len(c) for c in units.changes if c[0] > 0] == [2]


def balance_of_a_checkin(t) -> int:
    """What the first check-in of a member grants under the shop's rules (each c-member's expired lot)."""
    return next(iter(PointsLedger().all_entries(t.tenant_id, "c00"))).points


class RacedOnce(Counting):
    """Before its first batch of pieces, one of their members checks in through another ledger: a real race, which
    that member's single write loses on its version."""

    def __init__(self, t, member: str):
        super().__init__()
        self.t, self.racer, self.answer = t, member, None

    def commit_pieces(self, plans, now, window):
        if self.answer is None:
            self.answer = send(self.t, "checkin", self.racer, NOW)
        return super().commit_pieces(plans, now, window)


def test_a_piece_whose_member_moved_is_planned_again_and_counted_once(make_tenant):
    # GIVEN five members with a purchase due
    t = five_due(make_tenant)
    # WHEN one of them checks in while the run's pieces are being written
    ledger = RacedOnce(t, "m2")
    summary = run(t, ledger)
    # THEN m2's write was refused and its piece planned again and written: each counted once, nothing lost
    assert ledger.pieces[0].count("lost") == 1 and ledger.pieces[0].count("written") == 4
    assert ledger.pieces[1] == ["written"]
    settled_once_beside_m2s_checkin(t, summary, ledger.answer)


def test_a_windows_counts_written_twice_are_added_once(ddb):
    # GIVEN a run's first start
    ledger, run_id = PointsLedger(), JobRun(f"win-{uuid.uuid4().hex[:6]}", NOW)
    start, counted = ledger.start_run(run_id)
    assert (start, counted) == (1, 0)
    # WHEN a window's counts are written, and written again (an answer lost and the call retried)
    for _ in range(2):
        ledger.count(run_id, start, 1_000_001, {"settled": 2, "points_released": 30})
    ledger.count(run_id, start, 1_000_002, {"settled": 1, "points_released": 5})
    # THEN they are added once, and the next start knows the last window counted
    assert {k: v for k, v in ledger.run(run_id).items() if v} == {"settled": 3, "points_released": 35}
    assert ledger.start_run(run_id) == (2, 1_000_002)


def test_a_start_followed_by_a_later_one_stops_counting_and_cannot_finish_the_run(ddb):
    # GIVEN a run started twice (the scheduler delivered it again while the first start still ran)
    ledger, run_id = PointsLedger(), JobRun(f"pre-{uuid.uuid4().hex[:6]}", NOW)
    first, _ = ledger.start_run(run_id)
    second, _ = ledger.start_run(run_id)
    # WHEN the first start counts a window, or marks the run done
    # THEN it is told a later start counts from here, and nothing is added or marked
    with pytest.raises(Preempted):
        ledger.count(run_id, first, first * 1_000_000 + 1, {"settled": 1})
    with pytest.raises(Preempted):
        ledger.finish_run(run_id, first)
    assert ledger.run(run_id) == {**dict.fromkeys(ledger.run(run_id), 0), "done": False}
    # AND the latest start counts and finishes
    ledger.count(run_id, second, second * 1_000_000 + 1, {"settled": 1})
    ledger.finish_run(run_id, second)
    assert ledger.run(run_id)["settled"] == 1 and ledger.run(run_id)["done"] is True


class DiesBeforeCounting(PointsLedger):
    """Writes its pieces, and dies before counting their window."""

    def count(self, run, start, window, counters):
        raise RuntimeError("died before counting")


def test_a_later_start_counts_the_pieces_an_earlier_start_wrote_and_never_counted(make_tenant, monkeypatch):
    # GIVEN three purchases settled by a start that died before counting them
    t = shop(make_tenant)
    for i in range(3):
        send(t, "purchase", f"m{i}", NOW - timedelta(days=3), order_id=f"o{i}", amount_fen=1000 * (i + 1))
    name = uuid.uuid4().hex[:8]
    with pytest.raises(RuntimeError):
        run(t, DiesBeforeCounting(), name)
    assert all(balance(t, f"m{i}")["pending"] == 0 for i in range(3))
    # WHEN the run is started again, its lines found already handled
    looked = []
    real = PointsLedger.piece_of
    monkeypatch.setattr(PointsLedger, "piece_of", lambda self, *a: looked.append(a) or real(self, *a))
    summary = run(t, PointsLedger(), name)
    # THEN it found each piece's entry, named by the run's time, and counted the three once
    assert len(looked) == 3 and (summary["settled"], summary["points_released"]) == (3, 60)
    # AND the run delivered again once done answers the same counts
    assert run(t, PointsLedger(), name) == {**summary, "repeated": True}
