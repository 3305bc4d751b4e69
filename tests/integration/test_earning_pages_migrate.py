"""`qunyun points migrate`, its second part: a tenant whose entries were listed by the earlier code (the `board`
index, no pages) gets its days paged from the entries themselves, and a second run writes the same pages."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from qunyun.adapters import journal, metrics_sources
from qunyun.adapters import points_keys as keys
from qunyun.adapters.earning_pages import page_lines
from qunyun.adapters.earning_pages_migrate import page_old_entries, stream_began
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import EarningPageItem, MemberItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.mall import RedemptionRequest, Reward
from qunyun.services.boards import leaderboard
from qunyun.services.mall import add_rewards, redeem
from qunyun.services.points import apply_event
from stream_support import deliver_streams

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
DAY = date(2026, 3, 2)


def _pages(tenant_id: str) -> list[tuple[str, str, str]]:
    out = []
    for list_pk in (keys.board_day_pk(tenant_id, str(DAY)), keys.redemptions_day_pk(tenant_id, str(DAY))):
        out += [(p.pk, p.sk, page_lines(p, "entries")) for p in EarningPageItem.query(keys.pages_pk(list_pk))]
    return sorted(out)


def _board(tenant_id: str) -> list[tuple[str, int]]:
    board = leaderboard(tenant_id, "tenant", "day", DAY, 10, ledger=PointsLedger(), now=NOW)
    return [(e["member_id"], e["points"]) for e in board["entries"]]


@pytest.fixture
def old_tenant(make_tenant, monkeypatch):
    """A tenant written as the earlier code left it: entries listed under their day, members in the `members` index,
    and no pages, because no stream consumer ran (the check-ins, a purchase and a redemption go through the real
    writers; that code wrote every entry as an item, which a member item keeping none does here)."""
    monkeypatch.setattr(journal, "KEPT", 0)
    t = TenantRepository().get(make_tenant("Asia/Shanghai").tenant_id)
    deliver_streams()  # earlier tests' records out of the way; this tenant's are not delivered
    ledger = PointsLedger()
    for n, member in enumerate(("u1", "u2", "u3", "u1")):
        ev = PointsEvent(event_id=f"ev-{uuid.uuid4().hex[:8]}", type="checkin" if n < 3 else "purchase",
                         member_id=member, occurred_at=NOW + timedelta(minutes=n), order_id="o1" if n == 3 else None,
                         amount_fen=5000 if n == 3 else None)
        apply_event(t, ev, ledger=ledger, now=NOW + timedelta(minutes=n))
    add_rewards(t, [Reward(id="pen", name="Pen", cost=5, stock=3)], ledger=ledger, now=NOW)
    redeem(t, RedemptionRequest(request_id="rq-1", member_id="u2", reward_id="pen", quantity=1), ledger=ledger, now=NOW)
    for member in ("u1", "u2", "u3"):  # listed by the `members` index, as that code made its members
        MemberItem.get(*keys.member_key(t.tenant_id, member)).update(
            actions=[MemberItem.tenant_id.set(t.tenant_id), MemberItem.member_id.set(member)])
    return t


def test_old_entries_are_paged_once_and_a_second_run_writes_the_same(old_tenant):
    tid = old_tenant.tenant_id
    # GIVEN no pages: the day's board reads empty
    assert _pages(tid) == [] and _board(tid) == []
    # WHEN the migration pages what was written before the stream began (here: before now)
    before = datetime.now(UTC) + timedelta(seconds=1)
    first = page_old_entries(tid, before)
    # THEN the board and the redemptions are whole: 4 earning entries and 1 spend, in one page each
    assert (first.entries, first.pages) == (5, 2)
    assert _board(tid) == [("u1", 55), ("u2", 5), ("u3", 5)]
    assert metrics_sources.redemptions_on(tid, DAY) == {"u2": 1}
    pages = _pages(tid)
    # AND a second run writes the same pages under the same keys
    again = page_old_entries(tid, before)
    assert (again.entries, again.pages) == (5, 2) and _pages(tid) == pages
    # AND once the stream is delivered as well (entries written around the stream's start are in both), each
    # entry still counts once
    deliver_streams()
    assert _board(tid) == [("u1", 55), ("u2", 5), ("u3", 5)]
    assert metrics_sources.redemptions_on(tid, DAY) == {"u2": 1}


def test_entries_written_after_the_stream_began_are_left_to_it(old_tenant):
    assert page_old_entries(old_tenant.tenant_id, NOW - timedelta(days=1)).entries == 0
    assert stream_began() < datetime.now(UTC)  # the table's stream has a label: when it was turned on
