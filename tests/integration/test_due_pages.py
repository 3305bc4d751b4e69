"""The due pages (adapters/due_pages.py): lots listed by the hour they fall due, written from the points table's
stream by PageEarnings, and worked by SettlePoints instead of a `lots_due` index entry per lot.

Tried here: two purchases listed on a page of their settle hour, settled by two runs of that hour (the page kept
while it lists a lot not due yet, then let go); a lot refunded before it fell due (left, nothing written); a lot
listed on two pages (worked once); a page that lists a tenant a run does not work (kept for the run that does);
lots written before the due pages, paged by `points migrate` (the same pages twice) and then settled; a check-in into
a lot that has its due time (paged once); a run cut short (the pages it let go stay gone, the next run reads the
rest); what a stream record becomes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from points_support import CountingLedger, OnlyTenants, as_old_layout
from qunyun.adapters import points_keys as keys
from qunyun.adapters.due_pages import DuePages, due_line
from qunyun.adapters.due_pages_migrate import page_old_due
from qunyun.adapters.earning_pages import page_lines
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import DuePageItem, LotItem, MemberItem, OrderItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.rules import PurchaseRule, Rules
from qunyun.services import settle as settle_service
from qunyun.services.adjust import reconcile_member
from qunyun.services.earning_pages import page_batch
from qunyun.services.points import apply_event
from qunyun.services.settle import settle as run_settle
from stream_support import deliver_streams, skip_streams
from test_points_crash import Crash, CrashingLedger

PLACED = datetime(2026, 5, 10, 3, 20, tzinfo=UTC)
DUE = PLACED + timedelta(days=2)  # 2026-05-12T03:20: the return window's end
RULES = Rules(purchase=PurchaseRule(points_per_yuan=1, return_window_days=2))


def shop(make_tenant):
    fx = make_tenant()
    TenantRepository().set_rules(fx.tenant_id, RULES)
    return TenantRepository().get(fx.tenant_id)


def send(t, kind: str, member: str, at: datetime, **fields) -> dict:
    event = PointsEvent(event_id=f"{kind}-{uuid.uuid4().hex[:8]}", type=kind, member_id=member, occurred_at=at,
                        **fields)
    return apply_event(t, event, ledger=PointsLedger(), now=at)


def buy(t, member: str, order_id: str) -> None:
    assert send(t, "purchase", member, PLACED, order_id=order_id, amount_fen=12900)["status"] == "applied"


def settle(t, at: datetime, *tenants: str) -> tuple[dict, int]:
    """A run at `at` (the stream not delivered here), for the test's tenants; its summary and its commits."""
    ledger = CountingLedger()
    summary = run_settle(at, ledger=ledger, tenants=OnlyTenants(*(tenants or (t.tenant_id,))),
                         job_name=f"due-{uuid.uuid4().hex[:8]}")
    return summary, ledger.commits


def pages(t) -> dict[str, list[str]]:
    """The due pages that list the tenant's lots: their sort keys and those lines."""
    out = {}
    for shard in keys.due_queues():
        for item in DuePageItem.query(keys.due_pages_pk(shard)):
            lines = [line for line in page_lines(item, "lots") if line.startswith(f"{t.tenant_id}#")]
            if lines:
                out[item.sk] = lines
    return out


def line(t, member: str, order_id: str) -> str:
    return f"{keys.member_pk(t.tenant_id, member)}\tP#purchase#{order_id}\t{DUE.isoformat()}"


def test_purchases_are_settled_from_their_page_which_is_let_go_once_all_it_lists_was_due(make_tenant):
    # GIVEN two purchases of a member, falling due at 03:20 and 03:50, and the stream delivered
    t = shop(make_tenant)
    buy(t, "u1", "o1")
    later = PLACED + timedelta(minutes=30)
    assert send(t, "purchase", "u1", later, order_id="o2", amount_fen=5000)["status"] == "applied"
    deliver_streams()
    # THEN both pending lots are listed on one page of the hour they fall due
    (sk, lines), = pages(t).items()
    second = line(t, "u1", "o2").replace(DUE.isoformat(), (later + timedelta(days=2)).isoformat())
    assert sk.startswith("PG#2026-05-12T03#") and lines == [line(t, "u1", "o1"), second]
    # WHEN a run an hour before finds them listed but not due; then a run at 03:21
    assert settle(t, DUE - timedelta(hours=1))[0]["settled"] == 0
    summary, _ = settle(t, DUE + timedelta(minutes=1))
    # THEN the first is settled, and the page kept: it lists a lot not due yet
    assert (summary["settled"], summary["points_released"]) == (1, 129) and sk in pages(t)
    # WHEN a run at 03:51
    summary, _ = settle(t, DUE + timedelta(minutes=31))
    # THEN the second is settled, and the page let go: everything on it was due
    assert (summary["settled"], summary["points_released"]) == (1, 50) and pages(t) == {}
    # AND the next hour's run finds nothing to read or write
    summary, commits = settle(t, DUE + timedelta(hours=1))
    assert summary["settled"] == 0 and commits == 0
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


def test_a_lot_refunded_before_it_fell_due_is_left_with_nothing_written(make_tenant):
    # GIVEN a purchase refunded in full inside its return window
    t = shop(make_tenant)
    buy(t, "u1", "o1")
    refund = send(t, "purchase_refund", "u1", PLACED + timedelta(days=1), order_id="o1", refund_id="r1",
                  amount_fen=12900)
    assert refund["status"] == "applied"
    deliver_streams()
    before = PointsLedger().member(t.tenant_id, "u1")
    # WHEN a run after its due time reads its line
    summary, commits = settle(t, DUE + timedelta(hours=1))
    # THEN nothing is settled or written, the member is as it was, and the page is let go
    assert summary["settled"] == 0 and commits == 0 and pages(t) == {}
    assert PointsLedger().member(t.tenant_id, "u1").version == before.version


def test_a_lot_listed_on_two_pages_is_worked_once(make_tenant):
    # GIVEN a purchase paged by the stream, and its record paged again as part of another batch (a retry split
    # differently), so that two pages list it
    t = shop(make_tenant)
    buy(t, "u1", "o1")
    deliver_streams()
    image = OrderItem.get(*keys.record_key("purchase", t.tenant_id, "o1")).serialize()  # it holds the lot
    other = {"pk": {"S": keys.record_key("purchase", t.tenant_id, "o9")[0]}, "sk": {"S": "#ORDER"},
             "member_id": {"S": "u1"}, "due_new": {"S": DUE.isoformat()}}  # same member and hour: the same page
    records = [{"eventName": "INSERT", "dynamodb": {"NewImage": image}},
               {"eventName": "MODIFY", "dynamodb": {"NewImage": other}}]
    page_batch(records, due_line, DuePages())
    assert sum(lines.count(line(t, "u1", "o1")) for lines in pages(t).values()) == 2
    # WHEN a run after its due time works the pages
    summary, _ = settle(t, DUE + timedelta(hours=1))
    # THEN the lot is settled once (o9 has no lot: its line is left), and both pages are let go
    assert summary["settled"] == 1 and summary["points_released"] == 129 and pages(t) == {}
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


def test_a_page_listing_a_tenant_a_run_does_not_work_is_kept_for_the_run_that_does(make_tenant):
    # GIVEN two tenants with a purchase each, due in the same hour
    a, b = shop(make_tenant), shop(make_tenant)
    buy(a, "u1", "o1")
    buy(b, "u1", "o1")
    deliver_streams()
    # WHEN a run works tenant a alone
    assert settle(a, DUE + timedelta(hours=1))[0]["settled"] == 1
    # THEN b's lot is still listed, and a run that works b (and a, whose lot may share b's page) settles it
    assert [lines for lines in pages(b).values()] == [[line(b, "u1", "o1")]]
    assert settle(b, DUE + timedelta(hours=1), a.tenant_id, b.tenant_id)[0]["settled"] == 1
    assert pages(a) == pages(b) == {}


def test_lots_written_before_the_due_pages_are_paged_by_migrate_and_then_settled(make_tenant):
    # GIVEN two purchases whose lots the earlier code wrote: lot items of their own, listed by `due_pk`/`due_sk`
    # (the lots_due index, which nothing reads now), no `due_at`, and no stream consumer; their members listed by
    # the `members` index
    t = shop(make_tenant)
    deliver_streams()
    for member in ("u1", "u2"):
        buy(t, member, f"o-{member}")
        as_old_layout(t.tenant_id, member, f"o-{member}")
        pk = keys.member_pk(t.tenant_id, member)
        lot = LotItem.get(pk, f"P#purchase#o-{member}")
        lot.update(actions=[LotItem.due_at.remove(), LotItem.due_new.remove(), LotItem.due_pk.set(keys.due_shard(pk)),
                            LotItem.due_sk.set(keys.due_sk(pk, lot.sk, DUE.isoformat()))])
        MemberItem.get(pk, keys.BALANCE_SK).update(actions=[MemberItem.tenant_id.set(t.tenant_id),
                                                            MemberItem.member_id.set(member)])
    skip_streams()
    assert pages(t) == {} and settle(t, DUE + timedelta(hours=1))[0]["settled"] == 0
    # WHEN the tenant is migrated, twice
    first = page_old_due(t.tenant_id)
    once = pages(t)
    second = page_old_due(t.tenant_id)
    # THEN both lots are listed at their due hour, and the second run wrote the same pages, key for key
    assert first == second and first[0] == 2 and pages(t) == once
    assert sorted(x for lines in once.values() for x in lines) == [line(t, "u1", "o-u1"), line(t, "u2", "o-u2")]
    # AND a run settles both, each lot moved into its order by the run's read of it: the old item and its index
    # keys are gone, and the order holds the settled lot without a due time
    summary, _ = settle(t, DUE + timedelta(hours=1))
    assert summary["settled"] == 2 and pages(t) == {}
    assert LotItem.count(keys.member_pk(t.tenant_id, "u1"), LotItem.sk.startswith("P#")) == 0
    order = OrderItem.get(*keys.record_key("purchase", t.tenant_id, "o-u1"))
    assert (order.state, order.remaining, order.due_at, order.due_new) == ("settled", 0, None, None)
    for member in ("u1", "u2"):
        assert reconcile_member(t.tenant_id, member, ledger=PointsLedger()) == []


def test_a_check_in_into_a_lot_that_has_its_due_time_pages_nothing_again(make_tenant):
    # GIVEN a member's check-in, which made the year's lot (the default expiry), held in its member item and paged
    # with its due time from the member's record
    t = shop(make_tenant)
    assert send(t, "checkin", "u1", PLACED)["status"] == "applied"
    deliver_streams()
    listed = [x for lines in pages(t).values() for x in lines]
    assert len(listed) == 1 and "\tL#" in listed[0]
    # WHEN the next day's check-in adds to that lot, and the stream is delivered
    assert send(t, "checkin", "u1", PLACED + timedelta(days=1))["status"] == "applied"
    deliver_streams()
    # THEN the lot is listed once still: the write kept its due time, and the filter let nothing through
    assert [x for lines in pages(t).values() for x in lines] == listed
    member = MemberItem.get(*keys.member_key(t.tenant_id, "u1"))
    lot = PointsLedger().lot(t.tenant_id, "u1", keys.lot_of(listed[0].split("\t")[1]))
    assert lot.expires_at == listed[0].split("\t")[2] and member.due_new is None and lot.remaining > 0
    assert LotItem.count(keys.member_pk(t.tenant_id, "u1"), LotItem.sk.startswith("L#")) == 0


class OneAtATime(CrashingLedger):
    """Hands out due work a lot at a time, and dies on a commit (test_points_crash.py)."""

    def due_work(self, until: str, page: int = 100):
        return super().due_work(until, page=1)


def test_a_run_cut_short_keeps_the_pages_it_let_go_and_the_next_reads_the_rest(make_tenant, monkeypatch):
    # GIVEN a member's purchases falling due at 03:20, 04:20 and 05:20, on three pages of one shard
    t = shop(make_tenant)
    for k in range(3):
        placed = PLACED + timedelta(hours=k)
        assert send(t, "purchase", "u1", placed, order_id=f"o{k}", amount_fen=1000)["status"] == "applied"
    deliver_streams()
    assert sorted(sk[3:16] for sk in pages(t)) == ["2026-05-12T03", "2026-05-12T04", "2026-05-12T05"]
    # WHEN a run that lets its pages go after every list of work dies on its third piece (its fifth commit: each
    # piece is written alone, then its window's counts)
    monkeypatch.setattr(settle_service, "HANDLED_EVERY", 1)
    name, at = f"cut-{uuid.uuid4().hex[:8]}", DUE + timedelta(hours=3)
    with pytest.raises(Crash):
        run_settle(at, ledger=OneAtATime(4, dies="before"), tenants=OnlyTenants(t.tenant_id), job_name=name)
    # THEN the page of the first lot written is gone (a page is let go once the list after its last line is written)
    assert sorted(sk[3:16] for sk in pages(t)) == ["2026-05-12T04", "2026-05-12T05"]
    # AND the same run started again settles what is left, the three counted once, and lets every page go
    summary = run_settle(at, ledger=PointsLedger(), tenants=OnlyTenants(t.tenant_id), job_name=name)
    assert (summary["settled"], summary["points_released"]) == (3, 30) and pages(t) == {}
    assert reconcile_member(t.tenant_id, "u1", ledger=PointsLedger()) == []


def test_a_stream_record_is_read_as_its_line():
    at = "2027-12-31T16:00:00+00:00"
    lot = {"pk": {"S": "t#u1"}, "sk": {"S": f"L#{at}"}, "due_at": {"S": at}, "due_new": {"S": at}}
    (shard, hour), text = due_line({"eventName": "INSERT", "dynamodb": {"NewImage": lot}})
    assert (shard, hour) == (keys.due_shard("t#u1"), "2027-12-31T16")
    assert text == "t#u1\tL#2027-12-31T16:00:00+00:00\t2027-12-31T16:00:00+00:00"
    assert due_line({"eventName": "MODIFY", "dynamodb": {"NewImage": lot}}) is not None
    # not a removal, not a lot without a due time, not a write that kept it (a spend), not an item that is no lot
    assert due_line({"eventName": "REMOVE", "dynamodb": {"OldImage": lot}}) is None
    assert due_line({"eventName": "MODIFY", "dynamodb": {"NewImage": {k: lot[k] for k in ("pk", "sk")}}}) is None
    kept = {k: v for k, v in lot.items() if k != "due_new"}
    assert due_line({"eventName": "MODIFY", "dynamodb": {"NewImage": kept}}) is None
    assert due_line({"eventName": "INSERT", "dynamodb": {"NewImage": {**lot, "sk": {"S": "E#x"}}}}) is None
