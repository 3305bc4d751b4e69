"""Points events and SettlePoints under races: threads started together against DynamoDB Local.

What must hold (DESIGN.md §5, reference/ledger.md 9, 12, 20-22): concurrent duplicates execute exactly once;
a check-in is once per program-day however many requests race for it; a pending purchase resolves once
when a settle run and a refund race for it, and the refund's share is exact whichever wins; work for
different members running alongside a settle run leaves every balance equal to what its entries say.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from points_support import CountingLedger, OnlyTenants
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import QunyunError
from qunyun.domain.events import PointsEvent
from qunyun.domain.ledger import LotId
from qunyun.domain.rules import PurchaseRule, Rules
from qunyun.services.adjust import reconcile_member
from qunyun.services.points import apply_event
from stream_support import reconciled, settle  # the stream delivered first: the pages list what was written

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai; every call passes its own clock
WINDOW = timedelta(days=2)


def shop(make_tenant):
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, Rules(purchase=PurchaseRule(points_per_yuan=1, return_window_days=2)))
    return TenantRepository().get(fx.tenant_id)


def event(kind: str, member: str, at: datetime, event_id: str | None = None, **fields) -> PointsEvent:
    return PointsEvent(event_id=event_id or f"ev-{uuid.uuid4().hex[:10]}", type=kind, member_id=member,
                       occurred_at=at, **fields)


def send(tenant, ev: PointsEvent, now: datetime) -> dict:
    """A client: it retries the same event when the service answers `contention` (409, nothing written)."""
    ledger = PointsLedger()
    for _ in range(20):
        try:
            return apply_event(tenant, ev, ledger=ledger, now=now)
        except QunyunError as err:
            if err.code != "contention":
                raise
    raise AssertionError(f"{ev.event_id} kept losing races")


def run_settle(tenant, now: datetime, name: str | None = None) -> dict:
    return settle(now, ledger=PointsLedger(), tenants=OnlyTenants(tenant.tenant_id),
                  job_name=name or f"race-{uuid.uuid4().hex[:8]}")


def together(*calls: Callable[[], object]) -> list:
    """Runs the calls in threads released at the same instant; returns results (or the exceptions raised)."""
    gate = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        gate.wait()
        try:
            results[i] = call()
        except Exception as err:  # noqa: BLE001 - reported by the test
            results[i] = err

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results


def entries(tenant, member: str) -> list:
    return list(PointsLedger().all_entries(tenant.tenant_id, member))


def balance(tenant, member: str) -> dict[str, int]:
    state = PointsLedger().member(tenant.tenant_id, member)
    return {**{k: int(v) for k, v in state.balance.items()}, "earned": state.earned}


# ---- (a) one check-in a day, one apply per event id ------------------------------------------------------
def test_twenty_checkins_at_once_grant_exactly_one(make_tenant):
    # GIVEN a member with nothing yet
    t = shop(make_tenant)
    now = T0
    # WHEN 20 check-ins for the same day arrive at once, each with its own event id
    results = together(*(lambda i=i: send(t, event("checkin", "u1", now, f"c-{i}"), now) for i in range(20)))
    # THEN exactly one is granted; the other 19 are answered "already checked in" and earn nothing
    granted = [r for r in results if r["granted"]]
    assert len(granted) == 1 and granted[0]["granted"] == 5 and "reason" not in granted[0]
    assert Counter(r.get("reason") for r in results) == {None: 1, "already_checked_in": 19}
    assert all(r["status"] == "applied" for r in results)
    # AND one ledger entry, a balance of one check-in, and entries that add up to it
    assert [e.kind for e in entries(t, "u1")] == ["earn"]
    assert balance(t, "u1") == {"available": 5, "pending": 0, "spent": 0, "expired": 0, "cancelled": 0,
                                "written_off": 0, "debt": 0, "earned": 5}
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


def test_the_same_event_id_from_twenty_threads_applies_once(make_tenant):
    # GIVEN one purchase event, sent by 20 retrying clients at the same instant
    t = shop(make_tenant)
    now = T0
    ev = event("purchase", "u1", now, "pos-1", order_id="o-1", amount_fen=12900)
    results = together(*(lambda: send(t, ev, now) for _ in range(20)))
    # THEN one "applied" and 19 "duplicate", every one carrying the first answer
    assert Counter(r["status"] for r in results) == {"applied": 1, "duplicate": 19}
    first = next(r for r in results if r["status"] == "applied")
    assert all(r == {**first, "status": r["status"]} for r in results)
    assert first["pending"] == 129
    # AND the purchase was recorded once: one pending entry, 129 pending points
    assert [e.kind for e in entries(t, "u1")] == ["pending"]
    assert balance(t, "u1")["pending"] == 129 and balance(t, "u1")["earned"] == 129
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


# ---- (b) settle against refund of the same pending purchase ----------------------------------------------
def test_settle_racing_a_refund_resolves_the_pending_points_once(make_tenant):
    t = shop(make_tenant)
    winners = Counter()
    for i in range(10):
        # GIVEN a fresh member whose 129-point purchase is due to settle at `now`
        member, order = f"b{i}", f"o-{i}"
        now = T0 + timedelta(days=3 * i + 3)
        placed = now - WINDOW - timedelta(minutes=1)
        send(t, event("purchase", member, placed, order_id=order, amount_fen=12900), placed)
        full = i % 2 == 1
        refund_fen = 12900 if full else 4300
        share = 129 if full else 43
        refund = event("purchase_refund", member, now, order_id=order, refund_id=f"r-{i}", amount_fen=refund_fen)
        # WHEN a settle run and the refund start together (the refund held back 0-90 ms, as the run first reads
        # its checkpoint and the due index: so that both orders happen)
        summary, answer = together(lambda n=now: run_settle(t, n),
                                   lambda ev=refund, n=now, d=i: (time.sleep(d / 100), send(t, ev, n))[1])
        # THEN the refund reverses its exact share whichever won ...
        assert answer["reversed"] == share
        assert answer["granted"] + answer["pending"] == -share
        # ... the pending lot resolved exactly once: settled by the run, or cancelled whole by the refund
        kinds = Counter(e.kind for e in entries(t, member))
        settled_first = answer["pending"] == 0
        winners["settle" if settled_first else "refund"] += 1
        assert kinds == ({"pending": 1, "settle": 1, "refund": 1} if settled_first or not full
                         else {"pending": 1, "refund": 1}), kinds
        assert summary["settled"] == kinds["settle"]
        lot = PointsLedger().lot(t.tenant_id, member, LotId("purchase", order))
        assert (lot.state, lot.remaining) == (("settled", 0) if kinds["settle"] else ("cancelled", 0))
        # ... and the balance holds what is left, with nothing pending and no debt
        assert balance(t, member) == {"available": 129 - share, "pending": 0, "spent": 0, "expired": 0,
                                      "cancelled": share, "written_off": 0, "debt": 0, "earned": 129}
        assert reconcile_member(t.tenant_id, member, ledger=PointsLedger()) == []
    print(f"\nwinners of 10 settle/refund races: {dict(winners)}")


# ---- (c) events for many members while a settle run works ------------------------------------------------
def test_events_for_many_members_alongside_a_settle_run_reconcile(make_tenant):
    # GIVEN six members with a purchase due to settle, and u0 waiting for the reward of inviting u1
    t = shop(make_tenant)
    now = T0 + timedelta(days=5)
    placed = now - WINDOW - timedelta(hours=1)
    members = [f"u{i}" for i in range(6)]
    send(t, event("invite", "u0", placed, invitee_id="u1"), placed)
    for i, m in enumerate(members):
        send(t, event("purchase", m, placed, order_id=f"old-{m}", amount_fen=10000 + 100 * i), placed)
    # WHEN a settle run starts together with a check-in, a quiz answer and a new purchase for every member
    calls: list[Callable[[], object]] = [lambda: run_settle(t, now, "busy")]
    for m in members:
        calls += [lambda m=m: send(t, event("checkin", m, now), now),
                  lambda m=m: send(t, event("quiz_answer", m, now, quiz_id="q", question_id="1", correct=True), now),
                  lambda m=m: send(t, event("purchase", m, now, order_id=f"new-{m}", amount_fen=5000), now)]
    summary = together(*calls)[0]
    # THEN the run settled each old purchase once and released the invite once
    assert (summary["settled"], summary["invites_released"]) == (6, 1)
    assert summary["points_released"] == sum(100 + i for i in range(6))
    # AND every balance is exactly what happened, and equals its entries
    for i, m in enumerate(members):
        invite = 50 if m == "u0" else 0
        assert balance(t, m) == {"available": 100 + i + 5 + 10 + invite, "pending": 50, "spent": 0, "expired": 0,
                                 "cancelled": 0, "written_off": 0, "debt": 0, "earned": 100 + i + 65 + invite}, m
    assert reconciled(t.tenant_id) == dict.fromkeys(members, [])


def test_two_settle_runs_for_the_same_time_at_once_do_the_work_once(make_tenant):
    # GIVEN eight purchases due to settle
    t = shop(make_tenant)
    now = T0 + timedelta(days=5)
    placed = now - WINDOW - timedelta(hours=1)
    for i in range(8):
        send(t, event("purchase", f"u{i}", placed, order_id=f"o-{i}", amount_fen=10000), placed)
    # WHEN two instances of the same scheduled run start together (an at-least-once scheduler)
    name = f"twice-{uuid.uuid4().hex[:6]}"
    first, second = together(lambda: run_settle(t, now, name), lambda: run_settle(t, now, name))
    # THEN each purchase settled once, and the run's stored counters say so
    assert sum(Counter(e.kind for e in entries(t, f"u{i}"))["settle"] for i in range(8)) == 8
    again = run_settle(t, now, name)
    assert again["repeated"] is True and (again["settled"], again["points_released"]) == (8, 800)
    for i in range(8):
        assert balance(t, f"u{i}")["available"] == 100 and balance(t, f"u{i}")["pending"] == 0
    assert reconciled(t.tenant_id) == dict.fromkeys((f"u{i}" for i in range(8)), [])
    assert first["settled"] == second["settled"] == 8  # each answer reads the run's shared counters


# ---- an invite racing the invitee's first settled purchase ----------------------------------------------
class InviteeReadThenSettle(PointsLedger):
    """The real ledger, with one interleaving forced: right after the invite planner reads the invitee, a
    settle run (another process) settles the invitee's first purchase, before the invite is committed."""

    def __init__(self, tenant, invitee: str, now: datetime):
        super().__init__()
        self.tenant, self.invitee, self.now, self.fired = tenant, invitee, now, False

    def member(self, tenant_id: str, member_id: str):
        state = super().member(tenant_id, member_id)
        if member_id == self.invitee and not self.fired:
            self.fired = True
            assert run_settle(self.tenant, self.now)["settled"] == 1
        return state


def test_an_invite_racing_the_invitees_first_settlement_is_still_released(make_tenant):
    # GIVEN u2's purchase is due to settle, and u1 invites u2 at that moment
    t = shop(make_tenant)
    now = T0 + timedelta(days=5)
    placed = now - WINDOW - timedelta(hours=1)
    send(t, event("purchase", "u2", placed, order_id="o-2", amount_fen=10000), placed)
    # WHEN the settle run settles u2's purchase between the invite reading u2 and the invite committing
    answer = apply_event(t, event("invite", "u1", now, invitee_id="u2"), ledger=InviteeReadThenSettle(t, "u2", now),
                         now=now)
    assert answer["status"] == "applied"
    later = run_settle(t, now + timedelta(days=1))
    # THEN the invite reward does not stay pending for ever: either the invite saw the settlement (released at
    # once) or a later run releases it, as happens when the two do not overlap
    u1 = balance(t, "u1")
    assert (u1["pending"], u1["available"]) == (0, 50), (answer, later, u1)


# ---- a member and its lot read at different moments ------------------------------------------------------
class LotReadBefore(PointsLedger):
    """The real ledger, with one interleaving forced: its first prefetch returns one lot as it was before
    another transaction, and everything else after it. A BatchGetItem reads each item consistently, not all
    of them as one snapshot, so a member can be read after a change and its lot before it."""

    def __init__(self, key: tuple[str, str], raw: dict):
        super().__init__()
        self.key, self.raw, self.served = key, raw, 0

    def prefetch_keys(self, keys: list[tuple[str, str]], consistent: bool = True) -> None:
        super().prefetch_keys(keys, consistent)
        if not self.served and self.key in keys:
            self._local.snapshot[self.key] = self.raw
            self.served += 1


def raw_item(key: tuple[str, str]) -> dict:
    from qunyun.adapters.points_tables import TABLE

    ledger = PointsLedger()
    key = {"pk": {"S": key[0]}, "sk": {"S": key[1]}}
    return ledger._connection.client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]


def pending_purchase(make_tenant):
    """A tenant whose member u1 has a 129-point purchase due to settle at `now`, and its pending lot as read now
    (held in its order: what a read of the lot fetches)."""
    from qunyun.adapters import points_keys as keys

    t = shop(make_tenant)
    now = T0 + timedelta(days=3)
    placed = now - WINDOW - timedelta(minutes=1)
    send(t, event("purchase", "u1", placed, order_id="o-1", amount_fen=12900), placed)
    key = keys.lot_key(t.tenant_id, "u1", LotId("purchase", "o-1"))
    before = raw_item(key)
    assert before["state"]["S"] == "pending"
    return t, now, key, before


def test_a_refund_that_read_the_lot_before_settlement_and_the_member_after_replans(make_tenant):
    # GIVEN a 129-point purchase due to settle, and its pending lot as read before the settle run
    t, now, key, before = pending_purchase(make_tenant)
    # WHEN the run settles it, and a full refund then reads the member after the run but the lot before it
    assert run_settle(t, now)["settled"] == 1
    ledger = LotReadBefore(key, before)
    answer = apply_event(t, event("purchase_refund", "u1", now, order_id="o-1", refund_id="r-1", amount_fen=12900),
                         ledger=ledger, now=now)
    # THEN the stale plan (cancel the pending lot) was refused by the lot's condition, and the refund,
    # planned again, takes the settled points back from available
    assert ledger.served == 1
    assert (answer["reversed"], answer["pending"], answer["granted"]) == (129, 0, -129)
    assert Counter(e.kind for e in entries(t, "u1")) == {"pending": 1, "settle": 1, "refund": 1}
    lot = PointsLedger().lot(t.tenant_id, "u1", LotId("purchase", "o-1"))
    assert (lot.state, lot.remaining) == ("settled", 0)
    assert balance(t, "u1") == {"available": 0, "pending": 0, "spent": 0, "expired": 0, "cancelled": 129,
                                "written_off": 0, "debt": 0, "earned": 129}
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


def test_a_settle_run_that_read_the_lot_before_a_refund_and_the_member_after_replans(make_tenant):
    # GIVEN a 129-point purchase due to settle, and its pending lot as read before a partial refund
    t, now, key, before = pending_purchase(make_tenant)
    # WHEN a third is refunded, and the run then reads the member after the refund but the lot before it
    answer = send(t, event("purchase_refund", "u1", now, order_id="o-1", refund_id="r-1", amount_fen=4300), now)
    assert answer["pending"] == -43
    ledger = LotReadBefore(key, before)
    summary = settle(now, ledger=ledger, tenants=OnlyTenants(t.tenant_id), job_name=f"stale-{uuid.uuid4().hex[:6]}")
    # THEN the run did not release the 129 it read but the 86 left, once
    assert ledger.served == 1
    assert (summary["settled"], summary["points_released"]) == (1, 86)
    lot = PointsLedger().lot(t.tenant_id, "u1", LotId("purchase", "o-1"))
    assert (lot.state, lot.remaining) == ("settled", 0)
    assert balance(t, "u1") == {"available": 86, "pending": 0, "spent": 0, "expired": 0, "cancelled": 43,
                                "written_off": 0, "debt": 0, "earned": 129}
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


# ---- a settle run reads each page of due work ahead ------------------------------------------------------
def test_a_settle_run_reads_a_page_ahead_and_rereads_what_earlier_work_changed(make_tenant):
    from support import DynamoCalls

    # GIVEN 30 members with a purchase due, and u1 with two purchases due who invited u2, whose purchase is due
    t = shop(make_tenant)
    now = T0 + timedelta(days=5)
    placed = now - WINDOW - timedelta(hours=1)
    send(t, event("invite", "u1", placed, invitee_id="u2"), placed)
    for i in range(30):
        send(t, event("purchase", f"m{i}", placed, order_id=f"o-m{i}", amount_fen=10000), placed)
    for order, member in (("o-a", "u1"), ("o-b", "u1"), ("o-c", "u2")):
        send(t, event("purchase", member, placed, order_id=order, amount_fen=10000), placed)
    # WHEN the run settles them, counting its reads
    ledger = CountingLedger()
    with DynamoCalls([ledger._connection.client]) as seen:
        summary = settle(now, ledger=ledger, tenants=OnlyTenants(t.tenant_id), job_name=f"ahead-{uuid.uuid4().hex[:6]}")
    # THEN everything settled once: u1's two purchases, u2's, and u1's invite released by u2's first settlement,
    # whichever of u1's and u2's came first (u1's member item changes under a read made ahead)
    assert (summary["settled"], summary["invites_released"]) == (33, 1)
    assert balance(t, "u1")["available"] == 200 + 50 and balance(t, "u1")["pending"] == 0
    assert balance(t, "u2")["available"] == 100
    assert all(balance(t, f"m{i}")["available"] == 100 for i in range(30))
    assert reconciled(t.tenant_id) == dict.fromkeys(sorted([f"m{i}" for i in range(30)] + ["u1", "u2"]), [])
    # AND the 33 pieces of work read ahead a page at a time (at most one page per due shard), with a read of
    # its own only for u1's second purchase and for work retried after a read ahead went stale, and each
    # transaction's (or batch of pieces written alone's) one read after its plans', of the lots they may hold in the
    # member item and the orders they settle together (points_writer `read_after_plan`)
    assert seen.calls["BatchGetItem:points"] <= 4 + 1 + 2 + ledger.commits, (seen.calls, ledger.commits)
