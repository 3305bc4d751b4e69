"""A settle run's orders (and entries, where its member item has no room to keep them) written after its member's
write (adapters/standing.py), not with it.

Tried here: a settlement's member keeps a standing stage, and is written alone (a single write, the run's counts added
with its window's: adapters/lone_pieces.py), its entry kept in it (adapters/journal.py) and its order updated after
it; an expiry's member keeps its entry and no stage; an order not as planned when read again after the plan stays in
the transaction; a refund planned from an order read before the run's update of it is refused and planned again; a
member whose item would pass 1 KB with the stage keeps its writes in a transaction instead; a run whose orders are
left unwritten leaves them to the member's next reader (a balance read, reconcile, the next check-in), which updates
each once; the writer's late update after a reader's changes nothing; the member's next change ends the stage. Every
stop of the run between a member's write and its orders is in test_points_crash.py."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

from points_support import OnlyTenants
from qunyun.adapters import journal, points_reads, points_writer, standing
from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import TABLE
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.rules import ExpiryRule, PurchaseRule, Rules
from qunyun.services.adjust import reconcile_member
from qunyun.services.points import apply_event
from stream_support import settle
from test_ledger_units import Units, dynamodb_size

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
SETTLED = T0 + timedelta(days=3)  # after the 2-day return window
EXPIRED = SETTLED + timedelta(days=4)  # after the settled lot's 3 days


def shop(make_tenant, days: int = 3):
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, Rules(purchase=PurchaseRule(points_per_yuan=1, return_window_days=2),
                                                     expiry=ExpiryRule(policy="rolling_days", days=days)))
    return TenantRepository().get(fx.tenant_id)


def send(t, kind: str, member: str, at: datetime, **fields) -> dict:
    event = PointsEvent(event_id=f"{kind}-{uuid.uuid4().hex[:8]}", type=kind, member_id=member, occurred_at=at,
                        group_id="g-1", **fields)
    return apply_event(t, event, ledger=PointsLedger(), now=at)


def run(t, at: datetime, ledger: PointsLedger | None = None) -> dict:
    return settle(at, ledger=ledger or PointsLedger(), tenants=OnlyTenants(t.tenant_id),
                  job_name=f"st-{uuid.uuid4().hex[:8]}")


def get(key: tuple[str, str]) -> dict | None:
    return PointsLedger()._connection.client.get_item(
        TableName=TABLE, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}}, ConsistentRead=True).get("Item")


def staged(t, member: str) -> dict:
    raw = get(keys.member_key(t.tenant_id, member))
    return json.loads(raw["staged"]["S"]) if "staged" in raw else {}


def kinds(t, member: str) -> list[str]:
    return [e.kind for e in PointsLedger().all_entries(t.tenant_id, member)]


def exact(t, member: str) -> None:
    assert reconcile_member(t.tenant_id, member, ledger=PointsLedger()) == []


def test_a_settlement_and_an_expiry_write_their_member_alone_then_their_order_and_entry(make_tenant):
    # GIVEN a purchase whose return window has ended
    t = shop(make_tenant)
    send(t, "purchase", "u1", T0, order_id="o-1", amount_fen=12900)
    # WHEN the settle run settles it, and a later run expires the lot it made
    ledger = PointsLedger()
    with Units(ledger) as settling:
        assert run(t, SETTLED, ledger)["settled"] == 1
    s = staged(t, "u1")
    with Units(ledger) as expiring:
        assert run(t, EXPIRED, ledger)["lots_expired"] == 1
    # THEN each run recorded its start, wrote the member (the settlement's with its standing stage) as a single
    # write, then the settlement's order, then its window's counts: single writes all (none in a transaction), 1 unit
    # each; each entry is kept in the member item, written with it (journal.py), so the stage holds the order only
    assert s["k"] == "t" and "entries" not in s["r"] and s["r"]["w"] > 1_000_000
    assert s["r"]["orders"] == [["o-1", "pending", 129, -129, {"state": "settled"}, 1]]
    assert [c[0] < 0 for c in settling.changes[:4]] == [True] * 4 and [len(c) for c in settling.changes[:4]] == [1] * 4
    assert [c[0] < 0 for c in expiring.changes[:3]] == [True] * 3 and [len(c) for c in expiring.changes[:3]] == [1] * 3
    assert all(-c[0] < 1024 for c in settling.changes[:4] + expiring.changes[:3])
    order = get(keys.record_key("purchase", t.tenant_id, "o-1"))
    assert (order["state"]["S"], order["remaining"]["N"], "due_at" in order) == ("settled", "0", False)
    assert staged(t, "u1") == {}
    assert [line["kind"] for line in journal.read(get(keys.member_key(t.tenant_id, "u1"))["journal"]["B"])] == [
        "settle", "expire"]
    assert kinds(t, "u1") == ["pending", "settle", "expire"]
    exact(t, "u1")


def test_a_member_whose_item_would_pass_one_kilobyte_keeps_its_entry_in_the_transaction(make_tenant):
    # GIVEN a light member and a heavy one (a 64-character Chinese nickname, 192 bytes, and nine days of check-ins
    # and quiz answers held in its item), each with a purchase due
    t = shop(make_tenant, days=60)
    for day in range(9):
        at = T0 - timedelta(days=8 - day)
        send(t, "checkin", "heavy", at, nickname="群" * 64)
        send(t, "quiz_answer", "heavy", at, quiz_id=f"q{day}", question_id="a", correct=True)
    send(t, "purchase", "heavy", T0, order_id="o-h", amount_fen=12900)
    send(t, "purchase", "light", T0, order_id="o-l", amount_fen=12900)
    # WHEN one run settles both
    ledger = PointsLedger()
    with Units(ledger) as units:
        assert run(t, SETTLED, ledger)["settled"] == 2
    # THEN the light member is written alone (its entry kept in it), its order after it; the heavy one goes into a
    # transaction with its writes (its item holds no stage); both items stay under 1 KB as stored
    assert staged(t, "light")["k"] == "t" and staged(t, "heavy") == {}
    # the run's start; the light member and its order; then the heavy one's member, order, new lot (an item: no room
    # to hold it), entry and the run's counters, in one transaction
    assert [len(c) for c in units.changes[:4]] == [1, 1, 1, 1 + 1 + 1 + 1 + 1]
    for member in ("light", "heavy"):
        assert dynamodb_size(get(keys.member_key(t.tenant_id, member))) < 1024
        assert kinds(t, member)[-1] == "settle"
        exact(t, member)


def order_state(t, member: str) -> str:
    return get(keys.record_key("purchase", t.tenant_id, f"o-{member}"))["state"]["S"]


def test_a_run_that_dies_before_its_orders_leaves_them_to_the_members_next_reader(make_tenant):
    # GIVEN three members whose purchases settle in one run whose writer never writes what their members' writes left
    # (as a writer dying after each member's write would leave it)
    t = shop(make_tenant)
    for m in ("u1", "u2", "u3"):
        send(t, "purchase", m, T0, order_id=f"o-{m}", amount_fen=12900)
    with mock.patch.object(standing, "write", side_effect=lambda connection, left: None):
        assert run(t, SETTLED)["settled"] == 3
    # THEN the balances moved and the settle entries are kept in the members' items, and no order is updated yet
    assert all(order_state(t, m) == "pending" for m in ("u1", "u2", "u3"))
    assert [e.kind for e in PointsLedger().entries_page(t.tenant_id, "u1", 10, None)[0]] == ["settle", "pending"]
    # WHEN u1's balance is read, u2 is reconciled and u3 checks in
    assert PointsLedger().member(t.tenant_id, "u1").balance["available"] == 129
    exact(t, "u2")
    send(t, "checkin", "u3", SETTLED + timedelta(hours=1))
    # THEN each reader updated its member's order, once, and the ledger is exact; u3's check-in ended the stage
    for m in ("u1", "u2", "u3"):
        assert order_state(t, m) == "settled" and kinds(t, m).count("settle") == 1
        exact(t, m)
    assert staged(t, "u3").get("k") != "t"


def test_the_writers_late_update_after_a_readers_changes_nothing(make_tenant):
    # GIVEN a run whose order update was left (its writer stalled), and a reader that made it
    t = shop(make_tenant)
    send(t, "purchase", "u1", T0, order_id="o-u1", amount_fen=12900)
    left = []
    with mock.patch.object(standing, "write", side_effect=lambda connection, s: left.append(s)):
        run(t, SETTLED)
    exact(t, "u1")  # the reader: reconcile reads the member first
    updated = get(keys.record_key("purchase", t.tenant_id, "o-u1"))
    assert updated["state"]["S"] == "settled"
    # WHEN the stalled writer writes what it left after all
    standing.write(PointsLedger()._connection, left[0])
    # THEN the order is as the reader left it (its version moved once), and the entry is there once
    assert get(keys.record_key("purchase", t.tenant_id, "o-u1")) == updated and kinds(t, "u1").count("settle") == 1
    exact(t, "u1")


def test_an_order_not_as_planned_when_read_again_stays_in_the_transaction(make_tenant, monkeypatch):
    # GIVEN a purchase due, and a read after the plan that finds its order moved (as a refund committed between the
    # plan's reads would leave it)
    t = shop(make_tenant)
    send(t, "purchase", "u1", T0, order_id="o-1", amount_fen=12900)
    real = points_writer.fetch

    def moved(connection, wanted):
        found = real(connection, wanted)
        return {k: ({**v, "remaining": {"N": "100"}} if v and k[1] == "#ORDER" else v) for k, v in found.items()}

    monkeypatch.setattr(points_writer, "fetch", moved)
    ledger = PointsLedger()
    with Units(ledger) as units:
        assert run(t, SETTLED, ledger)["settled"] == 1
    # THEN the piece is not written alone: after the run's start, the order is updated in the transaction, under its
    # condition (member, order, run), the entry after it
    assert [len(c) for c in units.changes[:3]] == [1, 3, 1] and "orders" not in staged(t, "u1")["r"]
    assert kinds(t, "u1") == ["pending", "settle"]
    exact(t, "u1")


def test_a_refund_planned_from_the_order_before_the_runs_update_is_refused_and_planned_again(make_tenant,
                                                                                         monkeypatch):
    # GIVEN a settle run whose order and entry are written after its transaction, and the order as it was before
    t = shop(make_tenant)
    send(t, "purchase", "u1", T0, order_id="o-1", amount_fen=12900)
    order_key, left = keys.record_key("purchase", t.tenant_id, "o-1"), []
    with mock.patch.object(standing, "write", side_effect=lambda connection, s: left.append(s)):
        run(t, SETTLED)
    stale = get(order_key)
    standing.write(PointsLedger()._connection, left[0])
    # WHEN a refund's first plan reads that order as it was (a BatchGetItem reads each item at its own instant)
    real, served = points_reads.fetch, []

    def first_read_stale(connection, wanted, consistent=True):
        found = real(connection, wanted, consistent)
        if order_key in found and not served:
            served.append(1)
            found[order_key] = stale
        return found

    monkeypatch.setattr(points_reads, "fetch", first_read_stale)
    answer = send(t, "purchase_refund", "u1", SETTLED + timedelta(hours=1), order_id="o-1", refund_id="r-1",
                  amount_fen=4300)
    # THEN that plan is refused, and the refund planned again takes its 43 points from the settled points
    assert served and answer["status"] == "applied" and answer["pending"] == 0
    assert PointsLedger().member(t.tenant_id, "u1").balance["available"] == 129 - 43
    exact(t, "u1")
