"""Plans of one run written together (domain/plan_batch.py): their items, what they touch, one plan of several."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from qunyun.domain.ledger import (
    Entry,
    EventRecord,
    JobRun,
    LotId,
    LotWrite,
    MemberChange,
    MemberState,
    Plan,
    RecordWrite,
)
from qunyun.domain.plan_batch import together, touched, writes

RUN = JobRun("SettlePoints", datetime(2026, 5, 20, 4, tzinfo=UTC))


def expiry(member: str, points: int) -> Plan:
    change = MemberChange(MemberState("t", member, exists=True, version=3))
    change.add("available", -points)
    change.lots += [LotWrite(LotId.expiring("2026-05-19"), add=-points), LotWrite(LotId.expiring("2026-05-19"))]
    change.entries.append(Entry(f"expire#{member}", "expire", "expiry", "2026-05-19", "system", -points, {}))
    return Plan("t", changes=[change], job=(RUN, {"lots_expired": 1, "points_expired": points}))


def test_an_expiry_is_its_member_lot_entry_and_the_run_counters():
    # the same lot written twice by one plan is one item
    assert writes(expiry("a", 5)) == 4
    assert touched(expiry("a", 5)) == {("member", "a")}


def test_an_invite_that_must_stay_absent_is_an_item_unless_its_invitee_is_changed_at_its_version():
    # a settlement checks that its member was invited by nobody: the member's own version vouches for that
    settlement = expiry("a", 5)
    settlement.absent_invites.append("a")
    assert writes(settlement) == 4 and ("invite", "a") in touched(settlement)
    settlement.absent_invites.append("z")
    assert writes(settlement) == 5


def test_plans_together_keep_every_change_and_add_their_counters_once():
    plans = [expiry("a", 5), expiry("b", 7), Plan("t", changes=[MemberChange(MemberState("t", "c"))],
                                                  invite=RecordWrite("c", {"state": "released"}),
                                                  absent_invites=["d"])]
    one = together(plans)
    assert [c.member.member_id for c in one.changes] == ["a", "b", "c"]
    assert one.job == (RUN, {"lots_expired": 2, "points_expired": 12})
    assert one.invite == plans[2].invite and one.absent_invites == ["d"]
    assert writes(one) == sum(writes(p) for p in plans) - 1  # the counters: one item, not two
    assert touched(one) == {("member", "a"), ("member", "b"), ("member", "c"), ("invite", "c"), ("invite", "d")}
    assert together([plans[0]]) is plans[0]


@pytest.mark.parametrize("other", [
    Plan("another-tenant", job=(RUN, {"lots_expired": 1})),
    Plan("t", event=EventRecord("e1", "digest", {})),
    Plan("t", job=(JobRun("SettlePoints", datetime(2026, 5, 21, tzinfo=UTC)), {"lots_expired": 1})),
], ids=["another tenant", "an event", "another run"])
def test_only_job_plans_of_one_tenant_and_run_go_together(other):
    with pytest.raises(ValueError):
        together([expiry("a", 5), other])


def test_two_invite_records_do_not_go_together():
    plans = [Plan("t", invite=RecordWrite(k, {"state": "released"})) for k in ("x", "y")]
    with pytest.raises(ValueError):
        together(plans)
