"""The points table's keys as stored: the domain names of lots, guards, records and shards map to the same
strings the table has always held (stored orders, entries and invites keep these strings), and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from qunyun.adapters import points_keys as keys
from qunyun.domain.ledger import Guard, JobRun, LotId, Read


@pytest.mark.parametrize(("guard", "stored"), [
    (Guard.checkin("2026-03-02"), "G#checkin#2026-03-02"),
    (Guard.quiz("q1", "a:1"), "G#quiz#q1#a:1"),
    (Guard.cap("2026-03-02", "purchase"), "G#cap#2026-03-02#purchase"),
    (Guard.limit("mug", "2026-03"), "G#limit#mug#2026-03"),
])
def test_a_guard_is_stored_under_its_old_sort_key_and_read_back(guard, stored):
    # GIVEN a member's guard / WHEN its sort key is written and parsed / THEN both ways agree with the table
    assert keys.guard_sk(guard) == stored
    assert keys.guard_of(stored) == guard


@pytest.mark.parametrize(("lot", "stored"), [
    (LotId.expiring("2026-03-04T00:00:00+00:00"), "L#2026-03-04T00:00:00+00:00"),
    (LotId("purchase", "o-1"), "P#purchase#o-1"),
    (LotId("invite", "u#2"), "P#invite#u#2"),
])
def test_a_lot_is_stored_under_its_old_sort_key_and_read_back(lot, stored):
    assert keys.lot_sk(lot) == stored
    assert keys.lot_of(stored) == lot
    assert keys.lots_read(keys.lots_stored({lot: 7})) == {lot: 7}


def test_records_shards_and_runs_keep_their_keys():
    # GIVEN the records of tenant t1 / THEN each key is the one the table holds, and its parts read back
    assert keys.key_of(Read("event", "t1", "e1")) == ("t1#EV#e1", "#EVENT")
    assert keys.key_of(Read("purchase", "t1", "o1")) == ("t1#OR#o1", "#ORDER")
    assert keys.key_of(Read("invite", "t1", "u2")) == ("t1#IN#u2", "#INVITE")
    assert keys.key_of(Read("redemption", "t1", "ord_ab12")) == ("t1#RD#ord_ab12", "#ORDER")
    assert keys.key_of(Read("reward", "t1", "mug")) == ("t1#REWARDS", "mug")
    assert keys.key_of(Read.stock("t1", "mug", 3)) == ("t1#RW#mug#S3", "#STOCK")
    assert keys.key_of(Read.member("t1", "u1")) == ("t1#u1", "#BALANCE")
    assert keys.key_of(Read.guard("t1", "u1", Guard.checkin("2026-03-02"))) == ("t1#u1", "G#checkin#2026-03-02")
    assert (keys.record_tenant("redemption", "t1#RD#ord_ab12"), keys.record_id("t1#RD#ord_ab12")) == ("t1", "ord_ab12")
    assert keys.shard_of("t1#RW#mug#S12") == 12
    at = datetime(2026, 3, 2, 1, tzinfo=UTC)
    assert keys.run_key(JobRun("SettlePoints", at)) == ("JOB#SettlePoints#2026-03-02T01:00:00+00:00", "run")


def test_owed_notices_are_spread_over_shards_and_parked_ones_listed_by_tenant():
    assert keys.fulfil_pk("t1", "ord_00000000000000000000000a", "due") == "FULFIL#2"
    assert keys.fulfil_pk("t1", "ord_00000000000000000000000a", "parked") == "PARKED#t1"
    assert keys.fulfil_sk("t1", "ord_1", "2026-03-02T01:00:00+00:00") == "2026-03-02T01:00:00+00:00#t1#ord_1"
    assert keys.fulfil_queues() == ["FULFIL#0", "FULFIL#1", "FULFIL#2", "FULFIL#3"]
    assert keys.fulfil_queues("t1") == ["PARKED#t1"]
