"""A redemption as single writes (adapters/points_stage.py): the member staged, then its order claimed with its stock
in one transaction, then its lots and its spend entry rolled forward; stopped or raced at every step.

What must hold beyond a check-in's and a purchase's case (test_points_stage.py, test_points_stage_purchase.py): the
stock is taken only with the claim, so a stage undone never holds a unit; a shard without the units refuses the
claim and the member is put back; an order voided for a dead writer reads as no order, and neither its late writer
nor a reader can place it twice; a cancellation of a staged order restores its lots and drops what the order kept to
roll it forward; every balance reconciles afterwards.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from qunyun.adapters import points_keys as keys
from qunyun.adapters import points_stage, points_writer
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import TABLE
from qunyun.domain.errors import NotFound
from qunyun.domain.ledger import Contention
from qunyun.domain.mall import CancelRequest, RedemptionRequest, Reward
from qunyun.services.adjust import adjust
from qunyun.services.mall import add_rewards, cancel, get_order, redeem
from support import item_bytes
from test_ledger_units import IndexUnits
from test_points_stage import DAY2, Crash, crash_once, entries, exact, member_of, raw_member, shop


def mall(make_tenant, stock: int = 5):
    """A tenant with a mug (stock `stock`) and a cap limited to 2 a month, and a member u1 with 500 points."""
    t = shop(make_tenant)
    add_rewards(t, [Reward(id="mug", name="Mug", cost=10, stock=stock),
                    Reward(id="cap", name="Cap", cost=10, stock=50, limit_per_member=2, limit_period="month")],
                ledger=PointsLedger(), now=DAY2)
    adjust(t, "u1", 500, "grant", ledger=PointsLedger(), now=DAY2)
    return t


def ask(request_id: str = "rq-1", member: str = "u1", reward: str = "mug", quantity: int = 1) -> RedemptionRequest:
    return RedemptionRequest(request_id=request_id, member_id=member, reward_id=reward, quantity=quantity)


def place(t, req: RedemptionRequest | None = None):
    return redeem(t, req or ask(), ledger=PointsLedger(), now=DAY2)


def raw(pk: str, sk: str) -> dict | None:
    return PointsLedger()._connection.client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                                      ConsistentRead=True).get("Item")


def raw_order(t, request_id: str = "rq-1") -> dict | None:
    from qunyun.domain.mall import order_id
    return raw(*keys.record_key("redemption", t.tenant_id, order_id(t.tenant_id, request_id)))


def stock(t, reward: str = "mug") -> int:
    return PointsLedger().stock(t.tenant_id, reward, 1)[0]


def test_a_redemption_is_staged_its_order_is_its_claim_and_a_cancellation_drops_what_it_kept(make_tenant):
    # GIVEN a member with points and a reward in stock
    t = mall(make_tenant)
    before = member_of(t, "u1").balance
    # WHEN it redeems
    answer = place(t)
    # THEN the redemption was staged: the member and the order name one token, the order keeps only the day and
    # its lots' versions, the stock was taken once and the spend entry written
    assert answer.status == 201 and answer.body["points_spent"] == 10
    token, order = raw_member(t, "u1")["stage"]["S"], raw_order(t)
    assert order["token"]["S"] == token and set(order["rest"]["S"]) and '"d":' in order["rest"]["S"]
    assert stock(t) == 4 and entries(t, "u1")[-1] == "spend"
    assert member_of(t, "u1").balance["available"] == before["available"] - 10
    exact(t, "u1")
    # AND the order is stored under 1 KB, as AWS sizes items, as is a limited reward's (it names its limit)
    assert place(t, ask("rq-cap", reward="cap")).status == 201
    sizes = [item_bytes(order), item_bytes(raw_order(t, "rq-cap"))]
    print("order bytes", sizes)
    assert max(sizes) < 1024, sizes
    exact(t, "u1")
    # AND a replay answers the same without writing; the order reads as placed
    again = place(t)
    assert (again.status, again.body, again.replayed) == (201, answer.body, True) and stock(t) == 4
    assert get_order(t, answer.body["order_id"], ledger=PointsLedger())["status"] == "placed"
    # AND its cancellation restores points and stock, and drops what the order kept to roll it forward
    cancel(t, answer.body["order_id"], CancelRequest(request_id="c-1", reason="changed mind"),
           ledger=PointsLedger(), now=DAY2)
    assert stock(t) == 5 and member_of(t, "u1").balance["available"] == before["available"] - 10
    assert "rest" not in raw_order(t) and raw_order(t)["status"]["S"] == "cancelled"
    exact(t, "u1")


@pytest.mark.parametrize("layout", ["items", "held"])
def test_a_staged_redemption_costs_seven_write_units_or_five_from_a_held_lot(make_tenant, monkeypatch, layout):
    # GIVEN a member who redeemed once (its lot exists and keeps points after a spend): its grant's lot an item (as
    # before a transaction made held lots), or held in the member item
    if layout == "items":
        monkeypatch.setattr(points_writer, "unheld", lambda wanted, found: {})
    t = mall(make_tenant)
    ledger = PointsLedger()
    place(t, ask("rq-0"))
    # WHEN it redeems again, each single write reporting its units per table and index
    with IndexUnits(ledger) as units:
        assert redeem(t, ask("rq-1"), ledger=ledger, now=DAY2).status == 201
    print(units.writes)
    # THEN the member, the lot (an item's) and the entry were single writes of a unit each, the lot's due entry
    # untouched and the entry with no index entry (it names its day's list, which PageEarnings pages from the stream);
    # from a held lot, the member alone, keeping the entry (kept_spend.py)
    singles = 3 if layout == "items" else 1
    assert len(units.writes) == singles and all(w["table"] == 1 for w in units.writes), units.writes
    assert units.by_index() == {"table": singles}
    # AND the claim's transaction held the order and the stock shard, each under 1 KB: 2 units each
    order, shard = raw_order(t), raw(keys.stock_pk(t.tenant_id, "mug", 0), keys.STOCK_SK)
    assert max(item_bytes(order), item_bytes(shard), item_bytes(raw_member(t, "u1"))) < 1024
    assert sum(sum(w.values()) for w in units.writes) + 2 * 2 == (7 if layout == "items" else 5)
    # AND the order names its day's redemption list only where its member item keeps the entry
    assert ("board_pk" in order) == (layout == "held") and entries(t, "u1").count("spend") == 2


def test_a_writer_that_died_before_its_claim_is_undone_once_stale_and_the_retry_places_once(make_tenant,
                                                                                           monkeypatch):
    # GIVEN a redemption whose writer died after staging the member, before claiming the order
    t = mall(make_tenant)
    before = member_of(t, "u1")
    died = crash_once(monkeypatch, "claim_redemption")
    with pytest.raises(Crash):
        place(t)
    assert died and "stage" in raw_member(t, "u1") and raw_order(t) is None and stock(t) == 5
    # WHEN, once stale, the member is read
    monkeypatch.setattr(points_stage, "STALE", timedelta(0))
    after = member_of(t, "u1")
    # THEN its stage was voided and undone: the balance and the limits are as before, no unit was taken, and the
    # void order reads as no order
    assert (after.balance, after.held) == (before.balance, before.held)
    assert raw_order(t)["void"]["BOOL"] is True and stock(t) == 5
    with pytest.raises(NotFound):
        PointsLedger().redemption(t.tenant_id, raw_order(t)["pk"]["S"].rsplit("#", 1)[-1]) or get_order(
            t, raw_order(t)["pk"]["S"].rsplit("#", 1)[-1], ledger=PointsLedger())
    # AND the client's retry places the order over the void, once
    answer = place(t)
    assert answer.status == 201 and not answer.replayed and stock(t) == 4
    assert entries(t, "u1").count("spend") == 1
    exact(t, "u1")


@pytest.mark.parametrize("reader", ["replay", "balance", "next redemption"])
def test_a_writer_that_died_after_its_claim_is_rolled_forward_by_the_next_reader(make_tenant, monkeypatch, reader):
    # GIVEN a redemption from a lot item, whose order and stock were claimed, by a writer that died before writing
    # its lot and entry (from a held lot, nothing is left after the claim: test_kept_spend.py)
    monkeypatch.setattr(points_writer, "unheld", lambda wanted, found: {})
    t = mall(make_tenant)
    died = crash_once(monkeypatch, "roll_forward")
    with pytest.raises(Crash):
        place(t)
    assert died and raw_order(t)["token"]["S"] == raw_member(t, "u1")["stage"]["S"] and stock(t) == 4
    assert "spend" not in entries(t, "u1")
    # WHEN the next reader comes: the client's retry, a balance read, or the member's next redemption
    if reader == "replay":
        answer = place(t)
        assert answer.status == 201 and answer.replayed
    elif reader == "balance":
        member_of(t, "u1")
    else:
        assert place(t, ask("rq-2")).status == 201
    # THEN the order stands and was rolled forward once: its spend entry written, its lot debited, the ledger exact
    assert entries(t, "u1").count("spend") == (2 if reader == "next redemption" else 1)
    assert stock(t) == (3 if reader == "next redemption" else 4)
    exact(t, "u1")


def test_a_cancellation_of_an_order_left_unrolled_settles_it_first(make_tenant, monkeypatch):
    # GIVEN a claimed redemption whose writer died before writing its lot and entry
    t = mall(make_tenant)
    before = member_of(t, "u1").balance
    crash_once(monkeypatch, "roll_forward")
    with pytest.raises(Crash):
        place(t)
    oid = raw_order(t)["pk"]["S"].rsplit("#", 1)[-1]
    # WHEN it is cancelled
    answer = cancel(t, oid, CancelRequest(request_id="c-1", reason="changed mind"),
           ledger=PointsLedger(), now=DAY2)
    # THEN the spend was rolled forward first and then restored: one spend, one restore, all points back
    assert answer.status == 200 and entries(t, "u1").count("spend") == entries(t, "u1").count("restore") == 1
    assert member_of(t, "u1").balance == before and stock(t) == 5
    exact(t, "u1")


def test_a_shard_without_the_units_refuses_the_claim_and_the_member_is_put_back(make_tenant, monkeypatch):
    # GIVEN the last unit of a reward, taken by another buyer between this redemption's plan and its claim
    t = mall(make_tenant, stock=1)
    adjust(t, "u2", 500, "grant", ledger=PointsLedger(), now=DAY2)
    before = member_of(t, "u1")
    real, raced_once = points_stage.claim_redemption, []

    def raced(*args, **kwargs):
        if not raced_once:
            raced_once.append(True)
            assert place(t, ask("rq-u2", member="u2")).status == 201  # u2 takes the last unit first
        return real(*args, **kwargs)

    monkeypatch.setattr(points_stage, "claim_redemption", raced)
    # WHEN u1's claim runs
    answer = place(t)
    # THEN it was refused, u1's stage undone, and the plan made again answers out of stock, recorded as a failure
    assert answer.status == 422 and answer.body["error"]["code"] == "out_of_stock"
    after = member_of(t, "u1")
    assert (after.balance, after.held) == (before.balance, before.held) and "stage" not in raw_member(t, "u1")
    assert raw_order(t)["status"]["S"] == "failed" and stock(t) == 0
    exact(t, "u1")
    exact(t, "u2")


def test_a_late_claim_after_its_stage_was_voided_takes_nothing_and_the_request_places_once(make_tenant,
                                                                                          monkeypatch):
    # GIVEN a writer stalled between its stage and its claim, long enough for a reader to void and undo its stage
    t = mall(make_tenant)
    before = member_of(t, "u1").balance
    real, seen = points_stage.claim_redemption, []

    def stalled(*args, **kwargs):
        if not seen:
            monkeypatch.setattr(points_stage, "STALE", timedelta(0))
            member_of(t, "u1")  # a reader finds the stage stale: voids the order, undoes the member
            monkeypatch.setattr(points_stage, "STALE", timedelta(seconds=5))
            seen.append(raw_order(t))
        return real(*args, **kwargs)

    monkeypatch.setattr(points_stage, "claim_redemption", stalled)
    # WHEN the writer wakes and claims
    answer = place(t)
    # THEN its late claim was refused by the void (its token's), and the plan made again placed the order once
    assert seen[0]["void"]["BOOL"] is True
    assert answer.status == 201 and stock(t) == 4 and entries(t, "u1").count("spend") == 1
    assert member_of(t, "u1").balance["available"] == before["available"] - 10
    exact(t, "u1")


def test_a_lot_moved_between_the_plan_and_the_stage_makes_the_plan_again(make_tenant, monkeypatch):
    # GIVEN a plan whose lot item is changed by another writer before the stage reads it again (a lot item: a
    # held lot is guarded by the member's version, the stage's own condition)
    monkeypatch.setattr(points_writer, "unheld", lambda wanted, found: {})
    t = mall(make_tenant)
    real, moved = points_stage.lot_target, []

    def moving(*args, **kwargs):
        if not moved:
            moved.append(adjust(t, "u1", 7, "grant", ledger=PointsLedger(), now=DAY2))
        return real(*args, **kwargs)

    monkeypatch.setattr(points_stage, "lot_target", moving)
    # WHEN the stage finds the lot not as planned
    contention = []
    real_stage = points_stage.stage

    def counting(*args, **kwargs):
        try:
            return real_stage(*args, **kwargs)
        except Contention as err:
            contention.append(err.reasons)
            raise

    monkeypatch.setattr("qunyun.adapters.points_ledger.stage", counting)
    answer = place(t)
    # THEN that attempt wrote nothing and the next one placed the order from the lot as it is
    assert contention == [["LotMoved"]] and answer.status == 201
    assert member_of(t, "u1").balance["available"] == 500 + 7 - 10
    exact(t, "u1")


def test_a_claim_refused_without_reasons_undoes_the_stage_and_the_request_places_once(make_tenant, monkeypatch):
    # GIVEN a claim whose transaction conflicts with another (DynamoDB gives no cancellation reasons for it)
    t = mall(make_tenant)
    before = member_of(t, "u1").balance
    real, conflicted = points_stage.committed, []

    def conflicting(*args, **kwargs):
        if not conflicted:
            conflicted.append(True)
            raise Contention([])
        return real(*args, **kwargs)

    monkeypatch.setattr(points_stage, "committed", conflicting)
    # WHEN the redemption is placed
    answer = place(t)
    # THEN the refused claim undid the stage (nothing rolled forward without an order) and the plan made again
    # placed the order once
    assert conflicted and answer.status == 201 and stock(t) == 4
    assert entries(t, "u1").count("spend") == 1
    assert member_of(t, "u1").balance["available"] == before["available"] - 10
    exact(t, "u1")
