"""A redemption's spend entry kept in its member item with its stage (adapters/kept_spend.py), on DynamoDB Local: no
entry item is written after the claim; the entry stands exactly when the order does; the order's insert lists the
spend on its day's page as the entry item's would; a member with no room puts the entry as before.

What was tried: the writer dying before its claim (the entry hidden from every read, then taken out by the undo),
dying after it (nothing left to write, the entry read at once), stalled until its stage was voided, the stream
delivered twice, a cancellation after it, and a member item with no room for the entry.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from qunyun.adapters import journal, kept_spend, metrics_sources, points_stage, stages_done
from qunyun.adapters import points_keys as keys
from qunyun.adapters.earning_pages import listed
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import EntryItem, MemberItem
from qunyun.domain.mall import CancelRequest
from qunyun.services.mall import cancel
from stream_support import deliver_streams
from support import item_bytes
from test_mall_stage import ask, mall, place, raw_order, stock
from test_points_stage import DAY2, Crash, crash_once, entries, exact, member_of, raw_member


def spend_items(t, member: str = "u1") -> list[EntryItem]:
    pk = keys.member_pk(t.tenant_id, member)
    return [e for e in EntryItem.query(pk, EntryItem.sk.startswith("E#"), consistent_read=True) if e.kind == "spend"]


def kept_lines(t, member: str = "u1") -> list[dict]:
    raw = raw_member(t, member)
    return [line for line in journal.read(raw.get("journal", {}).get("B")) if line["kind"] == "spend"]


def page_of_entries(t, member: str = "u1") -> dict:
    """The API's first page of the member's entries, by kind."""
    found, _ = PointsLedger().entries_page(t.tenant_id, member, 50, None)
    return {e.entry_id: e.kind for e in found}


def redeemed_on_day2(t) -> dict[str, int]:
    deliver_streams()
    return metrics_sources.redemptions_on(t.tenant_id, DAY2.date())


@pytest.mark.parametrize("reward", ["mug", "cap"])
def test_a_redemption_from_a_held_lot_keeps_its_spend_in_the_member_item(make_tenant, reward):
    # GIVEN a member whose points are held in its member item, and a reward (the cap limited to 2 a month)
    t = mall(make_tenant)
    before = member_of(t, "u1").balance
    # WHEN it redeems
    answer = place(t, ask(reward=reward))
    # THEN no entry item was written: the spend is a line of the member item, which stays under 1 KB with it
    assert answer.status == 201 and spend_items(t) == [] and len(kept_lines(t)) == 1
    assert item_bytes(raw_member(t, "u1")) < 1024
    stage = raw_member(t, "u1")
    key = kept_spend.kept_sk(MemberItem.from_raw_data(stage).staged)
    assert key == journal.line_sk(kept_lines(t)[0])
    # AND every read of entries finds it once, and the balance reconciles with it
    assert entries(t, "u1").count("spend") == 1 and list(page_of_entries(t).values()).count("spend") == 1
    assert member_of(t, "u1").balance["available"] == before["available"] - 10
    exact(t, "u1")
    # AND the order names its day's redemption list, and the stream lists the spend from it once, keyed as its
    # entry is, even when the same records are delivered twice
    order = raw_order(t)
    assert order["board_pk"]["S"] == keys.redemptions_day_pk(t.tenant_id, DAY2.date().isoformat())
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": order}}
    assert listed(record)[1].split("\t")[:2] == [keys.member_pk(t.tenant_id, "u1"), key]
    assert listed({"eventName": "MODIFY", "dynamodb": {"NewImage": {**order, "version": {"N": "1"}}}}) is None
    assert redeemed_on_day2(t) == {"u1": 1}
    place(t, ask(reward=reward))  # a replay
    assert redeemed_on_day2(t) == {"u1": 1}


def test_a_writer_that_died_before_its_claim_leaves_an_entry_no_read_sees_and_its_undo_takes_it_out(
        make_tenant, monkeypatch):
    # GIVEN a redemption whose writer died after staging the member (its spend kept with the stage), before its claim
    t = mall(make_tenant)
    before = member_of(t, "u1")
    died = crash_once(monkeypatch, "claim_redemption")
    with pytest.raises(Crash):
        place(t)
    assert died and len(kept_lines(t)) == 1 and raw_order(t) is None
    # WHEN the member's entries are read while the stage is young
    # THEN the spend is in none of them: its order does not stand
    assert "spend" not in entries(t, "u1") and "spend" not in page_of_entries(t).values()
    # AND once stale, a read voids and undoes the stage, the spend leaves the member item with it
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    assert member_of(t, "u1").balance == before.balance and kept_lines(t) == [] and stock(t) == 5
    exact(t, "u1")
    # AND the retry places the order once, its spend kept again
    assert place(t).status == 201 and len(kept_lines(t)) == 1 and entries(t, "u1").count("spend") == 1
    exact(t, "u1")


def test_a_writer_that_died_after_its_claim_left_nothing_to_write(make_tenant, monkeypatch):
    # GIVEN a redemption whose writer died right after its claim (before it marked its stage finished)
    t = mall(make_tenant)
    crash_once(monkeypatch, "roll_forward")
    with pytest.raises(Crash):
        place(t)
    token = raw_member(t, "u1")["stage"]["S"]
    assert raw_order(t)["token"]["S"] == token and not stages_done.is_finished(token)
    # WHEN another process reads the member's entries
    # THEN the spend is there already (its order stands), and the ledger is exact without a write
    assert entries(t, "u1").count("spend") == 1 and spend_items(t) == []
    version = raw_member(t, "u1")["version"]["N"]
    exact(t, "u1")
    assert raw_member(t, "u1")["version"]["N"] == version
    # AND the member's next redemption keeps both spends, the first carried over, and a replay answers the first
    assert place(t, ask("rq-2")).status == 201 and place(t).replayed
    assert len(kept_lines(t)) == 2 and entries(t, "u1").count("spend") == 2 and stock(t) == 3
    exact(t, "u1")


def test_a_cancelled_redemption_stays_listed_once_and_keeps_its_spend(make_tenant):
    # GIVEN a kept redemption, paged, then cancelled
    t = mall(make_tenant)
    answer = place(t)
    assert redeemed_on_day2(t) == {"u1": 1}
    cancel(t, answer.body["order_id"], CancelRequest(request_id="c-1", reason="changed mind"),
           ledger=PointsLedger(), now=DAY2)
    # THEN the order no longer names the list, the day still counts it once (as an entry item's listing did), and
    # the spend and its restore both read
    assert "board_pk" not in raw_order(t) and redeemed_on_day2(t) == {"u1": 1}
    assert entries(t, "u1").count("spend") == entries(t, "u1").count("restore") == 1 and stock(t) == 5
    exact(t, "u1")


def test_a_member_with_no_room_puts_its_spend_as_an_item(make_tenant):
    # GIVEN a member whose nickname leaves no room in its member item for a kept entry
    t = mall(make_tenant)
    pk, sk = keys.member_key(t.tenant_id, "u1")
    MemberItem(pk, sk).update(actions=[MemberItem.nickname.set("长" * 230)])
    # WHEN it redeems
    assert place(t).status == 201
    # THEN the spend is an entry item as before, the order names no list, and the day lists the spend once
    assert len(spend_items(t)) == 1 and kept_lines(t) == [] and "board_pk" not in raw_order(t)
    assert "e" in MemberItem.from_raw_data(raw_member(t, "u1")).staged
    assert redeemed_on_day2(t) == {"u1": 1} and entries(t, "u1").count("spend") == 1
    exact(t, "u1")
