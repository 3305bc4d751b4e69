"""Available lots held in the member item (adapters/held_lots.py), not in lot items of their own.

Tried here: a check-in's new lot held and listed in the due pages from the member's record (3 single writes); a
member who checks in every day under a rolling expiry, holding lots until its item's room is used, then writing
items, its item under 1 KB with any stage; a held lot expired by the settle run; a redemption spending a held lot to
nothing and its cancellation restoring it; a settlement crediting a held lot already past its due time, whose line
was read and let go (listed anew from the member, then expired); a settlement (a transaction) holding
its new lot, listed and expired from the member item; a transaction crediting an item of its expiry that exists, and
one whose item was made after it read none (refused by the member's version, then crediting the item); what a
member's stream record becomes in the due pages. The stage's undo of a held lot
is checked in test_points_stage.py and test_points_stage_quiz.py, whose check-ins and answers make held lots."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from points_support import OnlyTenants
from qunyun.adapters import points_keys as keys
from qunyun.adapters import points_writer
from qunyun.adapters.due_pages import due_line
from qunyun.adapters.earning_pages import page_lines
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import TABLE, DuePageItem, LotItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.mall import CancelRequest, RedemptionRequest, Reward
from qunyun.domain.rules import ExpiryRule, PurchaseRule, Rules
from qunyun.services.adjust import adjust, reconcile_member
from qunyun.services.mall import add_rewards, cancel, redeem
from qunyun.services.points import apply_event
from stream_support import deliver_streams, settle
from test_ledger_units import IndexUnits, dynamodb_size, measured

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def shop(make_tenant, days: int = 60, window: int = 7):
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, Rules(expiry=ExpiryRule(policy="rolling_days", days=days),
                                                     purchase=PurchaseRule(points_per_yuan=1,
                                                                           return_window_days=window)))
    return TenantRepository().get(fx.tenant_id)


def send(t, kind: str, member: str, at: datetime, ledger: PointsLedger | None = None, **fields) -> dict:
    event = PointsEvent(event_id=f"{kind}-{uuid.uuid4().hex[:8]}", type=kind, member_id=member, occurred_at=at,
                        **fields)
    return apply_event(t, event, ledger=ledger or PointsLedger(), now=at)


def raw_member(t, member: str = "u1") -> dict:
    pk, sk = keys.member_key(t.tenant_id, member)
    return PointsLedger()._connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                                      ConsistentRead=True)["Item"]


def items(t, member: str = "u1") -> list[str]:
    return [i.sk for i in LotItem.query(keys.member_pk(t.tenant_id, member), LotItem.sk.startswith("L#"),
                                        consistent_read=True)]


def held(t, member: str = "u1") -> dict:
    return {lot.name: n for lot, n in PointsLedger().member(t.tenant_id, member).held_lots.items()}


def run(t, at: datetime) -> dict:
    return settle(at, ledger=PointsLedger(), tenants=OnlyTenants(t.tenant_id), job_name=f"hl-{uuid.uuid4().hex[:8]}")


def lines(t) -> list[str]:
    return sorted(line for shard in keys.due_queues() for page in DuePageItem.query(keys.due_pages_pk(shard))
                  for line in page_lines(page, "lots") if line.startswith(f"{t.tenant_id}#"))


def exact(t, member: str = "u1") -> None:
    assert reconcile_member(t.tenant_id, member, ledger=PointsLedger()) == []


def test_a_check_in_holds_its_new_lot_in_the_member_and_lists_it_from_the_members_record(make_tenant):
    # GIVEN a shop with a 60-day rolling expiry
    t, ledger = shop(make_tenant), PointsLedger()
    # WHEN a newcomer checks in, each write reporting its units
    with IndexUnits(ledger) as units:
        answer = send(t, "checkin", "u1", T0, ledger=ledger)
    # THEN member, claim and entry, a unit each: the lot is held in the member item, which names its expiry for the
    # due pages; no lot item is written
    assert answer["granted"] > 0 and len(units.writes) == 3, units.writes
    (expiry, points), = held(t).items()
    assert points == answer["granted"] and items(t) == [] and raw_member(t)["due_new"]["S"] == expiry
    # AND the stream lists the member's lot under its due hour, as a lot item's line
    deliver_streams()
    assert lines(t) == [f"{keys.member_pk(t.tenant_id, 'u1')}\tL#{expiry}\t{expiry}"]
    # AND the member's next write removes `due_new`, so its record is not listed again
    send(t, "purchase", "u1", T0, order_id="o1", amount_fen=500)
    assert "due_new" not in raw_member(t)
    deliver_streams()
    assert len(lines(t)) == 2  # the purchase's own pending lot, from its order
    exact(t)


def test_a_member_checking_in_every_day_holds_lots_while_its_item_has_room_then_writes_items(make_tenant):
    # GIVEN a shop with a 60-day rolling expiry: a lot a day
    t, ledger = shop(make_tenant), PointsLedger()
    writes, sizes = [], []
    # WHEN a member checks in every day for two weeks
    for day in range(14):
        with IndexUnits(ledger) as units:
            assert send(t, "checkin", "u1", T0 + timedelta(days=day), ledger=ledger)["granted"] > 0
        writes.append(len(units.writes))
        sizes.append(dynamodb_size(raw_member(t)))
    # THEN its first lots are held (3 writes a check-in) until its item's room is used, and the rest are lot
    # items (4 writes); every lot is listed, the soonest first to spend, and the item stays under 1 KB with its stage
    kept = len(held(t))
    print("held:", kept, "writes:", writes, "member bytes:", sizes)
    assert 5 <= kept < 14 and writes == [3] * kept + [4] * (14 - kept)
    assert len(items(t)) == 14 - kept and max(sizes) < 1024 - 100
    lots = PointsLedger().lots(t.tenant_id, "u1")
    assert len(lots) == 14 and sum(x.remaining for x in lots) == PointsLedger().member(t.tenant_id, "u1").balance[
        "available"]
    assert sorted(held(t)) == sorted(x.expires_at for x in lots)[:kept]
    exact(t)


def test_a_held_lot_expires_from_the_member_item(make_tenant):
    # GIVEN a check-in whose lot, held in the member item, expires after two days
    t = shop(make_tenant, days=2)
    granted = send(t, "checkin", "u1", T0)["granted"]
    (expiry, _), = held(t).items()
    # WHEN the settle run comes after its expiry
    summary = run(t, datetime.fromisoformat(expiry) + timedelta(minutes=1))
    # THEN the lot is expired: dropped from the member item, an expiry entry written, the balance exact
    assert (summary["lots_expired"], summary["points_expired"]) == (1, granted)
    assert held(t) == {} and "lots" not in raw_member(t)
    member = PointsLedger().member(t.tenant_id, "u1")
    assert (member.balance["available"], member.balance["expired"]) == (0, granted)
    assert [e.kind for e in PointsLedger().all_entries(t.tenant_id, "u1")] == ["earn", "expire"]
    exact(t)
    # AND a second run finds nothing
    assert run(t, datetime.fromisoformat(expiry) + timedelta(minutes=2))["lots_expired"] == 0


def test_a_redemption_spends_a_held_lot_to_nothing_and_its_cancellation_restores_it(make_tenant):
    # GIVEN a member whose only lot is held, and a reward costing all of it
    t, ledger = shop(make_tenant), PointsLedger()
    granted = send(t, "checkin", "u1", T0, ledger=ledger)["granted"]
    add_rewards(t, [Reward(id="mug", name="Mug", cost=granted, stock=5)], ledger=ledger, now=T0)
    # WHEN it redeems the reward, its writes counted
    placed = {}
    count, units, _ = measured(ledger, lambda: placed.setdefault("r", redeem(
        t, RedemptionRequest(request_id="rq-1", member_id="u1", reward_id="mug", quantity=1), ledger=ledger, now=T0)))
    placed = placed["r"]
    # THEN member (keeping the spend entry: kept_spend.py), then order and stock (one transaction: 4 units): 3 items,
    # 5 units; the lot is held at 0
    assert placed.status == 201, placed.body
    assert (count, units) == (3, 5)
    assert list(held(t).values()) == [0] and items(t) == []
    exact(t)
    # WHEN the order is cancelled
    cancelled = cancel(t, placed.body["order_id"], CancelRequest(request_id="c-1", reason="changed mind"),
                       ledger=ledger, now=T0 + timedelta(hours=1))
    # THEN the points are back in the same held lot
    assert cancelled.status == 200, cancelled.body
    assert list(held(t).values()) == [granted] and items(t) == []
    exact(t)


def test_a_settlement_into_a_held_lot_whose_line_was_read_lists_it_again_and_it_expires(make_tenant):
    # GIVEN a 1-day rolling expiry and no return window; a check-in whose held lot is then spent to nothing, and a
    # settle run after the lot's expiry, which reads its line, finds nothing in it and lets the page go
    t = shop(make_tenant, days=1, window=0)
    granted = send(t, "checkin", "u1", T0)["granted"]
    adjust(t, "u1", -granted, "spent at the counter", ledger=PointsLedger(), now=T0 + timedelta(hours=1))
    (expiry, left), = held(t).items()
    after = datetime.fromisoformat(expiry) + timedelta(minutes=1)
    assert left == 0 and run(t, after)["lots_expired"] == 0 and lines(t) == []
    # WHEN a purchase made on the check-in's day arrives late, and the next run settles it: its expiry counts from
    # its settle time, so it is credited into the held lot, already past due
    event = PointsEvent(event_id=f"late-{uuid.uuid4().hex[:8]}", type="purchase", member_id="u1", occurred_at=T0,
                        order_id="o1", amount_fen=4200)
    apply_event(t, event, ledger=PointsLedger(), now=after + timedelta(minutes=1))
    settled = run(t, after + timedelta(minutes=2))
    # THEN the lot, still held, is listed anew (the member's `due_new` names it), and the run after expires it
    assert (settled["settled"], settled["points_released"]) == (1, 42) and held(t) == {expiry: 42}
    assert items(t) == [] and raw_member(t)["due_new"]["S"] == expiry
    expired = run(t, after + timedelta(minutes=3))
    assert (expired["lots_expired"], expired["points_expired"]) == (1, 42)
    member = PointsLedger().member(t.tenant_id, "u1")
    assert (member.balance["available"], member.balance["expired"]) == (0, 42)
    exact(t)


def test_a_settlement_holds_its_new_lot_and_the_settle_run_expires_it(make_tenant):
    # GIVEN a newcomer's purchase, pending for 7 days, under a 60-day rolling expiry
    t = shop(make_tenant)
    pending = send(t, "purchase", "u1", T0, order_id="o1", amount_fen=4200)["pending"]
    # WHEN the settle run settles it (a transaction)
    settled_at = T0 + timedelta(days=7, minutes=1)
    assert run(t, settled_at)["settled"] == 1
    # THEN its available lot is held in the member item, which names its expiry for the due pages: no lot item
    (expiry, points), = held(t).items()
    assert points == pending and items(t) == [] and raw_member(t)["due_new"]["S"] == expiry
    deliver_streams()
    assert f"{keys.member_pk(t.tenant_id, 'u1')}\tL#{expiry}\t{expiry}" in lines(t)
    # AND the run after its expiry expires it from the member item, once
    expired = run(t, datetime.fromisoformat(expiry) + timedelta(minutes=1))
    assert (expired["lots_expired"], expired["points_expired"]) == (1, pending) and held(t) == {}
    assert run(t, datetime.fromisoformat(expiry) + timedelta(minutes=2))["lots_expired"] == 0
    exact(t)


def test_a_transaction_credits_an_item_of_its_expiry_where_one_exists(make_tenant, monkeypatch):
    # GIVEN a member whose grant of an expiry was written as an item (as before held lots were made by transactions)
    t = shop(make_tenant)
    at = T0 + timedelta(days=1)
    with monkeypatch.context() as m:
        m.setattr(points_writer, "unheld", lambda wanted, found: {})
        adjust(t, "u1", 100, "grant", ledger=PointsLedger(), now=at)
    assert held(t) == {} and len(items(t)) == 1
    # WHEN another grant of the same expiry comes
    adjust(t, "u1", 30, "grant", ledger=PointsLedger(), now=at)
    # THEN it credits that item: the lot is not held as well
    assert held(t) == {} and len(items(t)) == 1
    assert PointsLedger().lots(t.tenant_id, "u1")[0].remaining == 130
    exact(t)


def test_an_item_made_after_the_transaction_read_none_refuses_it_and_the_plan_credits_the_item(make_tenant,
                                                                                                monkeypatch):
    # GIVEN a grant whose transaction read no item of its lot's expiry, after which another grant of that expiry
    # wrote an item (a change of the member, as every lot's first write is) before the first one committed
    t = shop(make_tenant)
    send(t, "checkin", "u1", T0)
    at = T0 + timedelta(days=1)
    real, raced = points_writer.unheld, []

    def raced_once(wanted, found):
        found = real(wanted, found)
        if not raced:
            raced.append(found)
            with monkeypatch.context() as m:
                m.setattr(points_writer, "unheld", lambda wanted, found: {})
                adjust(t, "u1", 100, "grant", ledger=PointsLedger(), now=at)
        return found

    monkeypatch.setattr(points_writer, "unheld", raced_once)
    adjust(t, "u1", 30, "grant", ledger=PointsLedger(), now=at)
    # THEN the first read found the expiry holdable, its transaction was refused by the member's version, and the
    # plan made again credited the item: one lot of that expiry, an item, with both grants
    assert raced and raced[0]
    assert len(items(t)) == 1 and len(held(t)) == 1  # the check-in's held lot, and the grants' item
    expiry = keys.lot_of(items(t)[0]).name
    assert expiry not in held(t) and [lot.remaining for lot in PointsLedger().lots(t.tenant_id, "u1")
                                      if lot.id.name == expiry] == [130]
    exact(t)


def test_a_members_stream_record_with_a_due_time_is_listed_as_its_lot():
    # GIVEN the stream records of a member item: with `due_new` (a lot made held), and without it
    pk, due = keys.member_pk("t1", "u1"), "2026-05-12T16:00:00+00:00"
    image = {"pk": {"S": pk}, "sk": {"S": keys.BALANCE_SK}, "due_new": {"S": due}, "lots": {"S": json.dumps({})}}
    without = {k: v for k, v in image.items() if k != "due_new"}
    found = [due_line({"eventName": name, "dynamodb": {"NewImage": img}})
             for name, img in (("INSERT", image), ("MODIFY", image), ("MODIFY", without))]
    # THEN the first two are the member's lot of that expiry, at its hour; the last is none
    line = ((keys.due_shard(pk), due[:13]), f"{pk}\tL#{due}\t{due}")
    assert found == [line, line, None]
