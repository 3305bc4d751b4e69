"""How held_lots.split places a change's lots: which stay in the member item, which are items, and which expiry the
member's `due_new` names for the due pages (one a write)."""

from __future__ import annotations

from datetime import UTC, datetime

from qunyun.adapters.held_lots import split
from qunyun.domain.ledger import LotId, LotWrite, MemberChange, MemberState

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
SOON, LATER, LATEST = "2026-03-10T16:00:00+00:00", "2026-04-10T16:00:00+00:00", "2026-05-10T16:00:00+00:00"


def member(**held: int) -> MemberChange:
    lots = {LotId.expiring(name): n for name, n in held.items()}
    return MemberChange(MemberState("t1", "u1", exists=True, version=3, held_lots=lots))


def credit(name: str, points: int) -> LotWrite:
    return LotWrite(LotId.expiring(name), add=points, set={"state": "available", "expires_at": name}, due=name)


def test_a_transaction_credit_into_a_held_lot_lists_it_again():
    # GIVEN a member holding a lot, WHEN a transaction credits it (a restore, a settlement)
    out = split(member(**{SOON: 0}), [credit(SOON, 50)], NOW, staged=False)
    # THEN the lot stays held, and the write names it for the due pages, as a lot item's credit would be listed
    assert out.after == {SOON: 50} and out.items == [] and out.due == SOON


def test_a_staged_credit_into_a_held_lot_not_yet_due_is_not_listed_again():
    out = split(member(**{SOON: 5}), [credit(SOON, 5)], NOW, staged=True)
    assert out.after == {SOON: 10} and out.due is None


def test_a_second_listed_lot_in_one_write_moves_into_an_item():
    # GIVEN a transaction crediting two held lots, each with its due time
    out = split(member(**{SOON: 0, LATER: 7}), [credit(SOON, 50), credit(LATER, 3)], NOW, staged=False)
    # THEN the first is listed by the member's `due_new`; the second leaves the member item for an item of its own,
    # with everything it held, which is listed as any lot item's credit is
    assert out.due == SOON and out.after == {SOON: 50}
    assert [(lot.lot.name, lot.add, lot.due) for lot in out.items] == [(LATER, 10, LATER)]


def test_new_lots_are_held_one_a_write_and_only_where_no_item_exists():
    # GIVEN two new expiries, both without an item, and a third of which an item exists
    lots = [credit(LATER, 4), credit(LATEST, 6), credit(SOON, 1)]
    holdable = frozenset({LotId.expiring(LATER), LotId.expiring(LATEST)})
    out = split(member(), lots, NOW, holdable, staged=False)
    # THEN the first is held and named by `due_new`; the second and the third are items
    assert out.after == {LATER: 4} and out.due == LATER
    assert [lot.lot.name for lot in out.items] == [LATEST, SOON]
