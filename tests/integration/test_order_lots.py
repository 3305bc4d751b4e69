"""A purchase's pending points held in its order (adapters/order_lots.py), not in a lot item of their own.

Tried here: a purchase of a member and of a newcomer (4 single writes, no `P#` item, the lot read from the order);
its life through a partial refund, the settle run and a refund after it (the order written once a change, the
balance exact); a purchase that earned nothing (no lot, a refund still applies); a lot the old code wrote as an item,
moved into its order by its first reader, by two readers at once, and by `points migrate` run twice (with an
invite's lot, which stays an item); what an order's stream record becomes in the due pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from points_support import OnlyTenants, as_old_layout
from qunyun.adapters import points_keys as keys
from qunyun.adapters.due_pages import due_line
from qunyun.adapters.order_lots import move_into_order
from qunyun.adapters.order_lots_migrate import move_order_lots
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import LotItem, OrderItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.ledger import LotId
from qunyun.domain.rules import PurchaseRule, Rules
from qunyun.services.adjust import reconcile_member
from qunyun.services.points import apply_event
from stream_support import settle
from test_ledger_units import IndexUnits, measured

PLACED = datetime(2026, 5, 10, 3, 20, tzinfo=UTC)
DUE = PLACED + timedelta(days=2)  # the return window's end


def shop(make_tenant, cap: int | None = None):
    fx = make_tenant()
    caps = {"daily_caps": {"purchase": cap}} if cap is not None else {}
    TenantRepository().set_rules(fx.tenant_id, Rules(purchase=PurchaseRule(points_per_yuan=1, return_window_days=2),
                                                     **caps))
    return TenantRepository().get(fx.tenant_id)


def send(t, kind: str, member: str, at: datetime = PLACED, ledger: PointsLedger | None = None, **fields) -> dict:
    event = PointsEvent(event_id=f"{kind}-{uuid.uuid4().hex[:8]}", type=kind, member_id=member, occurred_at=at,
                        **fields)
    return apply_event(t, event, ledger=ledger or PointsLedger(), now=at)


def buy(t, member: str, order_id: str, fen: int = 12900, ledger: PointsLedger | None = None) -> dict:
    return send(t, "purchase", member, ledger=ledger, order_id=order_id, amount_fen=fen)


def refund(t, member: str, order_id: str, fen: int, at: datetime = PLACED, ledger: PointsLedger | None = None):
    return send(t, "purchase_refund", member, at, ledger=ledger, order_id=order_id,
                refund_id=f"r-{uuid.uuid4().hex[:6]}", amount_fen=fen)


def order_of(t, order_id: str) -> OrderItem:
    return OrderItem.get(*keys.record_key("purchase", t.tenant_id, order_id), consistent_read=True)


def lot_items(t, member: str) -> list[str]:
    return [i.sk for i in LotItem.query(keys.member_pk(t.tenant_id, member), LotItem.sk.startswith("P#"),
                                        consistent_read=True)]


def run(t, at: datetime) -> dict:
    """A settle run at `at` for this tenant alone, the stream delivered first (the due pages list its lots)."""
    return settle(at, ledger=PointsLedger(), tenants=OnlyTenants(t.tenant_id), job_name=f"ol-{uuid.uuid4().hex[:8]}")


def exact(t, member: str) -> None:
    assert reconcile_member(t.tenant_id, member, ledger=PointsLedger()) == []


@pytest.mark.parametrize("member", ["newcomer", "member"])
def test_a_purchase_writes_its_pending_lot_with_its_order_and_no_lot_item(make_tenant, member):
    # GIVEN a shop, and a member who checked in before (or none: a newcomer's first event)
    t, ledger = shop(make_tenant), PointsLedger()
    if member == "member":
        send(t, "checkin", "u1", PLACED - timedelta(days=1), ledger=ledger)
    # WHEN the member buys, each write reporting its units
    with IndexUnits(ledger) as units:
        answer = buy(t, "u1", "o1", ledger=ledger)
    # THEN 4 single writes of a unit each (member, order, claim, entry): the order holds the pending lot
    assert (answer["status"], answer["pending"]) == ("applied", 129)
    assert len(units.writes) == 4 and all(w == {"table": 1} for w in units.writes), units.writes
    order = order_of(t, "o1")
    assert (order.state, order.remaining, order.settle_at, order.due_at, order.due_new) == (
        "pending", 129, DUE.isoformat(), DUE.isoformat(), DUE.isoformat())
    assert lot_items(t, "u1") == []
    # AND the lot reads from the order, as the member's pending lot, and the balance reconciles with it
    lot = PointsLedger().lot(t.tenant_id, "u1", LotId("purchase", "o1"))
    assert (lot.id, lot.state, lot.remaining, lot.settle_at, lot.source_id) == (
        LotId("purchase", "o1"), "pending", 129, DUE.isoformat(), "o1")
    assert [x.id for x in PointsLedger().lots(t.tenant_id, "u1", pending=True)] == [LotId("purchase", "o1")]
    assert PointsLedger().lot(t.tenant_id, "u2", LotId("purchase", "o1")) is None  # another member's order
    exact(t, "u1")


def test_a_purchase_through_refunds_and_its_settlement_writes_its_order_once_a_change(make_tenant):
    # GIVEN a 129-point purchase
    t, ledger = shop(make_tenant), PointsLedger()
    buy(t, "u1", "o1")
    # WHEN a third is refunded before the window ends
    items, _, changes = measured(ledger, lambda: refund(t, "u1", "o1", 4300, ledger=ledger))
    # THEN one transaction of the order (refund and lot together), the member, the entry, the event record
    assert items == 4 and len(changes) == 1
    order = order_of(t, "o1")
    assert (order.state, order.remaining, order.refunded_fen, order.version, order.due_new) == (
        "pending", 86, 4300, 1, None)
    exact(t, "u1")
    # WHEN the settle run comes after the window
    summary = run(t, DUE + timedelta(minutes=1))
    # THEN the rest is settled from the order, which keeps no due time
    assert (summary["settled"], summary["points_released"]) == (1, 86)
    order = order_of(t, "o1")
    assert (order.state, order.remaining, order.due_at, order.due_new) == ("settled", 0, None, None)
    exact(t, "u1")
    # AND a refund after it takes the settled points from available, and a repeat of the run settles nothing
    assert refund(t, "u1", "o1", 4300, DUE + timedelta(hours=1))["reversed"] == 43
    assert run(t, DUE + timedelta(minutes=2))["settled"] == 0
    member = PointsLedger().member(t.tenant_id, "u1")
    assert (member.balance["available"], member.balance["pending"], member.balance["cancelled"]) == (43, 0, 86)
    exact(t, "u1")


def test_a_purchase_that_earned_nothing_holds_no_lot_and_is_still_refunded(make_tenant):
    # GIVEN a shop whose purchases earn at most 129 points a day, and a member who earned them already
    t = shop(make_tenant, cap=129)
    buy(t, "u1", "o1")
    # WHEN a second purchase of the day earns nothing, and is refunded
    assert buy(t, "u1", "o2")["pending"] == 0
    answer = refund(t, "u1", "o2", 12900)
    # THEN its order holds no lot, the refund reverses nothing, and the balance is exact
    assert order_of(t, "o2").state is None and lot_items(t, "u1") == []
    assert PointsLedger().lot(t.tenant_id, "u1", LotId("purchase", "o2")) is None
    assert (answer["status"], answer["reversed"]) == ("applied", 0)
    exact(t, "u1")


def test_a_lot_the_old_code_wrote_is_moved_into_its_order_by_its_first_reader(make_tenant):
    # GIVEN a purchase whose lot the old code wrote as an item of its own
    t = shop(make_tenant)
    buy(t, "u1", "o1")
    as_old_layout(t.tenant_id, "u1", "o1")
    assert lot_items(t, "u1") == ["P#purchase#o1"] and order_of(t, "o1").state is None
    exact(t, "u1")  # the pending lot is found where the old code left it
    # WHEN a refund reads the lot
    assert refund(t, "u1", "o1", 4300)["pending"] == -43
    # THEN the lot was moved into the order, then written there, and the old item is gone
    assert lot_items(t, "u1") == []
    order = order_of(t, "o1")
    assert (order.state, order.remaining, order.due_at) == ("pending", 86, DUE.isoformat())
    exact(t, "u1")
    # AND the settle run settles it from the order
    assert run(t, DUE + timedelta(minutes=1))["points_released"] == 86
    exact(t, "u1")


def test_two_readers_moving_one_old_lot_at_once_move_it_once(make_tenant):
    # GIVEN an old lot item, read by two readers before either moves it
    t = shop(make_tenant)
    buy(t, "u1", "o1")
    as_old_layout(t.tenant_id, "u1", "o1")
    old = LotItem.get(keys.member_pk(t.tenant_id, "u1"), "P#purchase#o1", consistent_read=True)
    ledger = PointsLedger()
    # WHEN both move it
    first, second = move_into_order(ledger._connection, t.tenant_id, old), move_into_order(
        ledger._connection, t.tenant_id, old)
    # THEN the first moved it and the second was refused (the order holds a lot, the item is gone): nothing doubled
    assert (first, second) == (True, False)
    assert lot_items(t, "u1") == [] and order_of(t, "o1").remaining == 129
    exact(t, "u1")


def test_migrate_moves_every_old_purchase_lot_once_and_leaves_invites_lots(make_tenant):
    # GIVEN two old-layout purchase lots (one settled already) and an invite's pending lot
    t = shop(make_tenant)
    buy(t, "u1", "o1")
    buy(t, "u2", "o2")
    assert run(t, DUE + timedelta(minutes=1))["settled"] == 2
    buy(t, "u1", "o3")
    for member, order in (("u1", "o1"), ("u1", "o3"), ("u2", "o2")):
        as_old_layout(t.tenant_id, member, order)
    assert send(t, "invite", "u2", invitee_id="u9")["status"] == "applied"
    assert lot_items(t, "u2") == ["P#invite#u9", "P#purchase#o2"]
    # WHEN the tenant's purchase lots are moved, twice
    first, second = move_order_lots(t.tenant_id), move_order_lots(t.tenant_id)
    # THEN the first moved the three, the second none; each order holds its lot as it was; the invite's stays
    assert (first, second) == (3, 0)
    assert lot_items(t, "u1") == [] and lot_items(t, "u2") == ["P#invite#u9"]
    assert [(order_of(t, o).state, order_of(t, o).remaining) for o in ("o1", "o2", "o3")] == [
        ("settled", 0), ("settled", 0), ("pending", 129)]
    for member in ("u1", "u2"):
        exact(t, member)


def test_an_orders_stream_record_is_listed_as_its_members_lot():
    # GIVEN the stream records of orders: a new one with its due time, one written again without it, a redemption
    pk = keys.record_key("purchase", "t1", "o1")[0]
    image = {"pk": {"S": pk}, "sk": {"S": "#ORDER"}, "member_id": {"S": "u1"}, "due_new": {"S": DUE.isoformat()}}
    redemption = {**image, "pk": {"S": keys.record_key("redemption", "t1", "o1")[0]}}
    no_due = {k: v for k, v in image.items() if k != "due_new"}
    lines = [due_line({"eventName": name, "dynamodb": {"NewImage": img}})
             for name, img in (("INSERT", image), ("MODIFY", no_due), ("INSERT", redemption), ("REMOVE", image))]
    # THEN only the first is a line: the member's lot P#purchase#o1, at its due time
    member_pk = keys.member_pk("t1", "u1")
    assert lines == [((keys.due_shard(member_pk), DUE.isoformat()[:13]),
                      f"{member_pk}\tP#purchase#o1\t{DUE.isoformat()}"), None, None, None]
