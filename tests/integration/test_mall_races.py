"""The points mall under races, replays and crashes: threads calling the mall service with a shared ledger.

What must hold (DESIGN.md §5.7-8, reference/ledger.md 6-15, 23): the last unit of stock and the last points
go to exactly as many requests as they cover; a request id places at most one order and one debit however
often and however concurrently it is sent; a write that happened before a crash is replayed, never repeated;
a cancellation restores points, lots and stock once, forfeiting lots that expired in between.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from points_support import CountingLedger
from qunyun.adapters import points_writer
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tables import TenantItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.mall import CancelRequest, RedemptionRequest, Reward
from qunyun.domain.points import BALANCE_PARTS
from qunyun.domain.rules import ExpiryRule, Rules
from qunyun.services.adjust import adjust, reconcile_member
from qunyun.services.mall import add_rewards, cancel, redeem
from qunyun.services.settle import Run, process_due
from stream_support import deliver_streams

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai; every call here passes its own clock


# ---- helpers ---------------------------------------------------------------------------------------

def tenant_of(fx, *, shard_threshold: int | None = None, rules: Rules | None = None):
    """The tenant as the services see it, after setting the policy and rules the test needs."""
    if shard_threshold is not None:
        item = TenantItem.get(fx.tenant_id)
        policy = {**item.policy.as_dict(), "stock_shard_threshold": shard_threshold}
        item.update(actions=[TenantItem.policy.set(policy)])
    if rules is not None:
        TenantRepository().set_rules(fx.tenant_id, rules)
    return TenantRepository().get(fx.tenant_id)


def stock_up(t, ledger, **reward):
    add_rewards(t, [Reward(**reward)], ledger=ledger, now=T0)


def give(t, ledger, member: str, points: int, now: datetime = T0):
    adjust(t, member, points, "test grant", ledger=ledger, now=now)


def stock_left(t, ledger, reward_id: str) -> dict[str, int]:
    return ledger.stock(t.tenant_id, reward_id, int(ledger.reward(t.tenant_id, reward_id).shards))


def balance(t, ledger, member: str) -> dict[str, int]:
    return dict(ledger.member(t.tenant_id, member).balance)


def entries(t, ledger, member: str, kind: str) -> list:
    return [e for e in ledger.all_entries(t.tenant_id, member) if e.kind == kind]


def ask(request_id: str, member: str, reward: str = "mug", quantity: int = 1) -> RedemptionRequest:
    return RedemptionRequest(request_id=request_id, member_id=member, reward_id=reward, quantity=quantity)


def together(calls: list, workers: int | None = None) -> list:
    """Runs the calls on `workers` threads (default one each) released at once by a barrier; returns
    their results in order. Any exception in a thread fails the test."""
    workers = workers or len(calls)
    barrier = threading.Barrier(workers)

    def run(chunk):
        barrier.wait()
        return [call() for call in chunk]

    chunks = [calls[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = [f.result() for f in [pool.submit(run, chunk) for chunk in chunks]]
    out: list = [None] * len(calls)
    for i, results in enumerate(done):
        out[i::workers] = results
    return out


def expect_balance(t, ledger, member: str, **parts: int) -> None:
    assert balance(t, ledger, member) == {p: parts.get(p, 0) for p in BALANCE_PARTS}, member
    assert reconcile_member(t.tenant_id, member, ledger=ledger) == [], member


class CrashAfterCommit(CountingLedger):
    """A ledger whose commit writes and then fails, as a Lambda timing out after its transaction does."""

    def commit(self, plan, now):
        super().commit(plan, now)
        raise TimeoutError("Task timed out after 10.00 seconds")


@pytest.fixture(scope="module", autouse=True)
def warm_emulator(ddb):
    """Runs the redeem and cancel paths sequentially on a tenant of their own before any burst: a cold
    emulator hit first by 200 threads takes a minute or more for what takes seconds once its JIT is warm."""
    from qunyun.adapters.secrets import secret_store
    from qunyun.services.tenants import create_tenant

    t, _ = create_tenant("t-warm-" + uuid.uuid4().hex[:8], "Warm-up", None, tenants=TenantRepository(),
                         secrets=secret_store())
    ledger = PointsLedger()
    stock_up(t, ledger, id="mug", name="Logo mug", cost=1, stock=5000)
    for m in range(10):
        give(t, ledger, f"w{m}", 1000)
    for i in range(100):
        placed = redeem(t, ask(f"warm-{i}", f"w{i % 10}"), ledger=ledger, now=T0)
        if i % 10 == 0:
            cancel(t, placed.body["order_id"], CancelRequest(request_id=f"c-{i}", reason="warm-up"), ledger=ledger,
                   now=T0)


# ---- the last units and the last points -------------------------------------------------------------

@pytest.mark.parametrize("shards", [1, 4])
def test_200_concurrent_redemptions_of_10_units_place_exactly_10(tenant, shards):
    # GIVEN a 10-unit reward (in one stock item, or spread over 4 with a threshold of 3) and 50 members
    # with points for 100 units each
    ledger = PointsLedger()
    t = tenant_of(tenant, shard_threshold=10 if shards == 1 else 3)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=100, stock=10)
    assert len(stock_left(t, ledger, "mug")) == shards
    members = [f"m{i:02d}" for i in range(50)]
    for m in members:
        give(t, ledger, m, 10_000)

    # WHEN 200 redemptions, four per member, are sent at once
    requests = [ask(f"race-{i}", members[i % 50]) for i in range(200)]
    answers = together([lambda r=r: redeem(t, r, ledger=ledger, now=T0) for r in requests])

    # THEN exactly 10 are placed, 190 refused as out of stock, and the stock is 0 in every shard
    assert Counter(a.status for a in answers) == {201: 10, 422: 190}
    assert {a.body["error"]["code"] for a in answers if a.status == 422} == {"out_of_stock"}
    assert not any(a.replayed for a in answers)
    assert stock_left(t, ledger, "mug") == dict.fromkeys(stock_left(t, ledger, "mug"), 0)
    assert len({a.body["order_id"] for a in answers if a.status == 201}) == 10
    # AND only the winners paid, each exactly once per order, and every balance rebuilds from its entries
    wins = Counter(r.member_id for r, a in zip(requests, answers, strict=True) if a.status == 201)
    for m in members:
        expect_balance(t, ledger, m, available=10_000 - 100 * wins[m], spent=100 * wins[m])
        assert len(entries(t, ledger, m, "spend")) == wins[m]
    # AND each answer is what a retry of its request id replays
    for r, a in zip(requests[::20], answers[::20], strict=True):
        again = redeem(t, r, ledger=ledger, now=T0 + timedelta(minutes=1))
        assert (again.status, again.body, again.replayed) == (a.status, a.body, True)


def test_points_for_3_units_buy_exactly_3_of_10_concurrent_requests(tenant):
    # GIVEN a member with points for exactly 3 units of a well-stocked reward
    ledger = PointsLedger()
    t = tenant_of(tenant)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=100, stock=100)
    give(t, ledger, "u1", 300)

    # WHEN the member sends 10 redemptions with distinct request ids at once
    answers = together([lambda i=i: redeem(t, ask(f"buy-{i}", "u1"), ledger=ledger, now=T0) for i in range(10)])

    # THEN 3 are placed and 7 refused for want of points; nothing is left to spend
    assert Counter(a.status for a in answers) == {201: 3, 422: 7}
    assert {a.body["error"]["code"] for a in answers if a.status == 422} == {"insufficient_points"}
    expect_balance(t, ledger, "u1", spent=300)
    assert sum(stock_left(t, ledger, "mug").values()) == 97
    assert len(entries(t, ledger, "u1", "spend")) == 3


# ---- replays ----------------------------------------------------------------------------------------

def test_1000_replays_of_one_request_id_make_one_order_and_one_debit(tenant):
    # GIVEN a member with points for 10 units
    ledger = PointsLedger()
    t = tenant_of(tenant)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=100, stock=50)
    give(t, ledger, "u1", 1000)

    # WHEN one request id is sent 1,000 times from 8 threads, the first 8 at the same instant
    req = ask("once", "u1", quantity=2)
    answers = together([lambda: redeem(t, req, ledger=ledger, now=T0) for _ in range(1000)], workers=8)

    # THEN exactly one answer is the original and the 999 others replay it word for word
    assert sum(not a.replayed for a in answers) == 1
    first = next(a for a in answers if not a.replayed)
    assert first.status == 201 and first.body["points_spent"] == 200
    assert {(a.status, repr(a.body)) for a in answers} == {(201, repr(first.body))}
    # AND the member paid once, the stock fell once, one ledger entry says so
    expect_balance(t, ledger, "u1", available=800, spent=200)
    assert sum(stock_left(t, ledger, "mug").values()) == 48
    assert [int(e.points) for e in entries(t, ledger, "u1", "spend")] == [-200]


class TwinStoresFirst(PointsLedger):
    """A ledger whose refusals always lose the race to a concurrent twin of the same request: the twin's
    identical refusal is stored between this request's read (no order yet) and its own write."""

    def save_failed(self, tenant_id, redemption) -> bool:
        super().save_failed(tenant_id, redemption)
        return super().save_failed(tenant_id, redemption)


def test_a_refusal_whose_twin_stored_it_first_replays_the_twins_answer(tenant):
    # GIVEN a member without points and a refusal that a concurrent twin stores first
    ledger = TwinStoresFirst()
    t = tenant_of(tenant)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=100, stock=5)
    give(t, ledger, "poor", 50)

    # WHEN the request is answered
    answer = redeem(t, ask("twin", "poor"), ledger=ledger, now=T0)

    # THEN it replays the twin's refusal instead of failing on the order it had read as missing
    assert (answer.status, answer.replayed, answer.body["error"]["code"]) == (422, True, "insufficient_points")


def test_20_concurrent_twins_of_a_refused_request_get_one_identical_refusal(tenant):
    ledger = PointsLedger()
    t = tenant_of(tenant)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=100, stock=5)
    give(t, ledger, "poor", 50)

    answers = together([lambda: redeem(t, ask("twins", "poor"), ledger=ledger, now=T0) for _ in range(20)])

    assert {(a.status, repr(a.body)) for a in answers} == {(422, repr(answers[0].body))}
    assert sum(not a.replayed for a in answers) == 1
    expect_balance(t, ledger, "poor", available=50)


def test_concurrent_cancels_restore_once(tenant):
    # GIVEN a placed order of 2 units
    ledger = PointsLedger()
    t = tenant_of(tenant)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=100, stock=5)
    give(t, ledger, "u1", 500)
    oid = redeem(t, ask("r-1", "u1", quantity=2), ledger=ledger, now=T0).body["order_id"]

    # WHEN 8 cancellations with distinct request ids arrive at once
    later = T0 + timedelta(hours=1)
    answers = together([lambda i=i: cancel(t, oid, CancelRequest(request_id=f"c-{i}", reason="changed mind"),
                                           ledger=ledger, now=later) for i in range(8)])

    # THEN one cancels and seven replay it; points and stock come back once
    assert sum(not a.replayed for a in answers) == 1
    assert {(a.status, repr(a.body)) for a in answers} == {
        (200, repr({"order_id": oid, "status": "cancelled", "points_restored": 200, "points_forfeited": 0}))}
    expect_balance(t, ledger, "u1", available=500)
    assert sum(stock_left(t, ledger, "mug").values()) == 5
    assert len(entries(t, ledger, "u1", "restore")) == 1


# ---- crashes after the write -----------------------------------------------------------------------

def test_redemption_that_crashed_after_its_write_is_replayed_on_retry(tenant):
    # GIVEN a member with 500 points and a 5-unit reward
    ledger = PointsLedger()
    t = tenant_of(tenant)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=100, stock=5)
    give(t, ledger, "u1", 500)
    req = ask("crashy", "u1", quantity=2)

    # WHEN the transaction commits and the function dies before it can answer
    crashing = CrashAfterCommit()
    with pytest.raises(TimeoutError):
        redeem(t, req, ledger=crashing, now=T0)
    assert crashing.commits == 1

    # THEN the caller's retry with the same request id gets the placed order, replayed
    again = redeem(t, req, ledger=ledger, now=T0 + timedelta(seconds=30))
    assert (again.status, again.replayed, again.body["status"], again.body["points_spent"]) == (201, True, "placed",
                                                                                              200)
    assert again.body["balance"]["available"] == 300
    # AND nothing happened twice: stock, points, entries
    assert redeem(t, req, ledger=ledger, now=T0 + timedelta(minutes=1)) == again
    assert sum(stock_left(t, ledger, "mug").values()) == 3
    expect_balance(t, ledger, "u1", available=300, spent=200)
    assert len(entries(t, ledger, "u1", "spend")) == 1


def test_cancellation_that_crashed_after_its_write_is_replayed_on_retry(tenant):
    # GIVEN a placed order of 2 units
    ledger = PointsLedger()
    t = tenant_of(tenant)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=100, stock=5)
    give(t, ledger, "u1", 500)
    oid = redeem(t, ask("r-1", "u1", quantity=2), ledger=ledger, now=T0).body["order_id"]
    req = CancelRequest(request_id="c-1", reason="out of town")

    # WHEN the cancellation commits and the function dies before it can answer
    crashing = CrashAfterCommit()
    with pytest.raises(TimeoutError):
        cancel(t, oid, req, ledger=crashing, now=T0 + timedelta(hours=1))
    assert crashing.commits == 1

    # THEN the retry replays the cancellation
    again = cancel(t, oid, req, ledger=ledger, now=T0 + timedelta(hours=2))
    assert (again.status, again.replayed, again.body) == (200, True, {"order_id": oid, "status": "cancelled",
                                                                      "points_restored": 200,
                                                                      "points_forfeited": 0})
    # AND points and stock came back once
    assert sum(stock_left(t, ledger, "mug").values()) == 5
    expect_balance(t, ledger, "u1", available=500)
    assert len(entries(t, ledger, "u1", "restore")) == 1
    assert len(entries(t, ledger, "u1", "spend")) == 1


# ---- cancelling after a lot expired ------------------------------------------------------------------

SHANGHAI = timedelta(hours=8)
ROLLING_1_DAY = Rules(expiry=ExpiryRule(policy="rolling_days", days=1))


def at(local: str) -> datetime:
    """A moment written in Asia/Shanghai time."""
    return datetime.fromisoformat(local).replace(tzinfo=UTC) - SHANGHAI


def two_lots(tenant, early: int, late: int, cost: int):
    """A member whose `early` points expire at 2026-03-03 00:00 and `late` points a day later (rolling 1 day:
    through the end of the next local day), and who redeemed `cost` points at 2026-03-02 12:00 (Shanghai)."""
    ledger = PointsLedger()
    t = tenant_of(tenant, rules=ROLLING_1_DAY)
    stock_up(t, ledger, id="mug", name="Logo mug", cost=cost, stock=5)
    give(t, ledger, "u1", early, now=at("2026-03-01T10:00:00"))
    give(t, ledger, "u1", late, now=at("2026-03-02T10:00:00"))
    lots = {lot.id: lot.expires_at for lot in ledger.lots(t.tenant_id, "u1")}
    assert sorted(datetime.fromisoformat(e) for e in lots.values()) == [at("2026-03-03T00:00:00"),
                                                                        at("2026-03-04T00:00:00")]
    placed = redeem(t, ask("r-1", "u1"), ledger=ledger, now=at("2026-03-02T12:00:00"))
    assert placed.status == 201
    return t, ledger, placed.body["order_id"]


@pytest.mark.parametrize("layout", ["items", "held"])
def test_cancel_forfeits_the_lot_that_expired_and_restores_the_other(tenant, monkeypatch, layout):
    # GIVEN 100 points expiring at 03-03 00:00 and 200 at 03-04 00:00, and a redemption of 150 on 03-02,
    # which took the soonest-expiring 100 first and 50 of the later lot; the grants' lots written as items (as
    # before a transaction made held lots), or the first held in the member item (held_lots.py)
    if layout == "items":
        monkeypatch.setattr(points_writer, "unheld", lambda wanted, found: {})
    t, ledger, oid = two_lots(tenant, early=100, late=200, cost=150)
    expect_balance(t, ledger, "u1", available=150, spent=150)

    # WHEN the order is cancelled on 03-03 at noon, after the first lot's expiry
    answer = cancel(t, oid, CancelRequest(request_id="c-1", reason="late delivery"), ledger=ledger,
                    now=at("2026-03-03T12:00:00"))

    # THEN the 100 of the expired lot are forfeited and the 50 of the live lot come back with its expiry
    assert (answer.status, answer.body) == (200, {"order_id": oid, "status": "cancelled", "points_restored": 50,
                                                  "points_forfeited": 100})
    expect_balance(t, ledger, "u1", available=200, expired=100)
    lots = {datetime.fromisoformat(lot.expires_at): lot.remaining for lot in ledger.lots(t.tenant_id, "u1")}
    # (a held lot spent to nothing is dropped once past its expiry; an item stays at 0)
    expired_lot = {at("2026-03-03T00:00:00"): 0} if layout == "items" else {}
    assert lots == {**expired_lot, at("2026-03-04T00:00:00"): 200}
    # AND the stock is back, and a second cancellation replays without restoring anything again
    assert sum(stock_left(t, ledger, "mug").values()) == 5
    again = cancel(t, oid, CancelRequest(request_id="c-2", reason="again"), ledger=ledger,
                   now=at("2026-03-03T13:00:00"))
    assert (again.body, again.replayed) == (answer.body, True)
    expect_balance(t, ledger, "u1", available=200, expired=100)
    # AND the restored points are spendable until their own expiry, and not after it
    assert redeem(t, ask("r-2", "u1"), ledger=ledger, now=at("2026-03-03T23:00:00")).status == 201
    late = redeem(t, ask("r-3", "u1"), ledger=ledger, now=at("2026-03-04T00:00:00"))
    assert (late.status, late.body["error"]["code"]) == (422, "insufficient_points")


@pytest.mark.parametrize("early", [200, 150], ids=["lot-partly-left", "lot-used-up"])
def test_cancel_that_loses_a_race_to_the_expiry_job_keeps_the_ledger_exact(tenant, early):
    # GIVEN a redemption of 150 points taken from a lot expiring at 03-03 00:00 (with 50 left in it, or
    # none) and 100 points in a later lot
    t, ledger, oid = two_lots(tenant, early=early, late=100, cost=150)
    expiry = at("2026-03-03T00:00:00")

    # WHEN a cancellation received a second before that expiry commits only after the expiry job ran at
    # it (the job's write changes the member, so the cancel re-plans, with the clock it was given)
    deliver_streams()  # the due pages of the lots written so far
    process_due(Run("test-expire", ledger, TenantRepository(), expiry + timedelta(seconds=1), {}))
    assert balance(t, ledger, "u1")["expired"] == early - 150
    answer = cancel(t, oid, CancelRequest(request_id="c-1", reason="late"), ledger=ledger,
                    now=expiry - timedelta(seconds=1))
    assert answer.status == 200 and answer.body["points_restored"] + answer.body["points_forfeited"] == 150
    # AND the expiry job runs again afterwards
    deliver_streams()
    process_due(Run("test-expire-2", ledger, TenantRepository(), expiry + timedelta(hours=1), {}))

    # THEN the balance still rebuilds from entries and lots, and what it calls available is what the member
    # can actually spend (the 100 of the later lot), the 150 having been forfeited or expired
    assert reconcile_member(t.tenant_id, "u1", ledger=ledger) == []
    assert balance(t, ledger, "u1")["available"] == 100
    assert balance(t, ledger, "u1")["expired"] == early
