"""The member pages (adapters/member_pages.py): each tenant's members listed from the points table's stream by
PageEarnings, instead of a `members` index entry written with a newcomer's first event.

Tried here: a newcomer's first check-in and first purchase (no index entry, a unit a single write); the list after
the stream is delivered, twice (the same page, each member once); members made before the pages, listed by the
index, read with those since, and paged by `points migrate` (the same pages twice); a member paged whose item is
gone (not listed); what a stream record becomes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from qunyun.adapters import points_keys as keys
from qunyun.adapters.earning_pages import page_lines
from qunyun.adapters.member_pages import MemberPages, member_line
from qunyun.adapters.member_pages_migrate import page_old_members
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import MemberItem, MemberPageItem
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.services.earning_pages import page_batch
from qunyun.services.points import apply_event
from stream_support import deliver_streams, reconciled, skip_streams
from test_ledger_units import IndexUnits

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def send(t, ledger: PointsLedger, kind: str, member: str, **fields) -> dict:
    event = PointsEvent(event_id=f"{kind}-{uuid.uuid4().hex[:8]}", type=kind, member_id=member, occurred_at=T0,
                        **fields)
    return apply_event(t, event, ledger=ledger, now=T0)


def pages(t) -> dict[str, list[str]]:
    """The tenant's member pages: their sort keys and lines."""
    return {item.sk: page_lines(item, "members") for item in MemberPageItem.query(keys.members_pages_pk(t.tenant_id))}


def tenant(make_tenant):
    return TenantRepository().get(make_tenant().tenant_id)


@pytest.mark.parametrize("kind", ["checkin", "purchase"])
def test_a_newcomers_first_event_writes_no_index_entry_and_its_member_is_listed_from_the_stream(make_tenant, kind):
    # GIVEN a tenant with no members
    t, ledger = tenant(make_tenant), PointsLedger()
    fields = {"order_id": "o-1", "amount_fen": 12900} if kind == "purchase" else {}
    # WHEN a newcomer's first event is written, each write reporting its units per table and index
    with IndexUnits(ledger) as units:
        answer = send(t, ledger, kind, "u1", **fields)
    # THEN every write was a single write of one unit, to the table alone: the member made no `members` entry (a
    # check-in: member holding its lot, claim, entry; a purchase: member, order holding its lot, claim, entry)
    assert answer["status"] == "applied"
    assert len(units.writes) == (4 if kind == "purchase" else 3) and all(w == {"table": 1} for w in units.writes)
    item = MemberItem.get(*keys.member_key(t.tenant_id, "u1"))
    assert (item.tenant_id, item.member_id) == (None, None)
    # AND until the stream is delivered the tenant lists nobody; once it is, the member, on one page
    assert list(ledger.members(t.tenant_id)) == []
    deliver_streams()
    assert list(ledger.members(t.tenant_id)) == ["u1"] and list(pages(t).values()) == [["u1"]]
    # AND a member's later event pages nothing more
    send(t, ledger, "checkin", "u1") if kind == "purchase" else send(t, ledger, "purchase", "u1", order_id="o-2",
                                                                        amount_fen=100)
    deliver_streams()
    assert list(pages(t).values()) == [["u1"]]


def test_a_batch_delivered_again_writes_the_same_page_and_each_member_is_listed_once(make_tenant):
    # GIVEN three newcomers, and the stream records of their items
    t, ledger = tenant(make_tenant), PointsLedger()
    for member in ("u3", "u1", "u2"):
        send(t, ledger, "checkin", member)
    records = [{"eventName": "INSERT", "dynamodb": {"NewImage": {
        "pk": {"S": keys.member_pk(t.tenant_id, m)}, "sk": {"S": keys.BALANCE_SK}}}} for m in ("u3", "u1", "u2")]
    # WHEN the batch is paged twice, and a batch split otherwise (two of them again) once more
    for batch in (records, records, records[1:]):
        page_batch(batch, member_line, MemberPages())
    # THEN the first two wrote one page, the split batch another, and the list holds each member once, in id order
    assert len(pages(t)) == 2
    assert list(ledger.members(t.tenant_id)) == ["u1", "u2", "u3"]
    assert reconciled(t.tenant_id) == {"u1": [], "u2": [], "u3": []}


def test_members_made_before_the_pages_are_listed_by_the_index_and_paged_by_migrate(make_tenant):
    # GIVEN two members the earlier code made (listed by the `members` index, their records never paged: written
    # here with the index keys as that code wrote them), and a newcomer since
    t, ledger = tenant(make_tenant), PointsLedger()
    deliver_streams()
    for member in ("old-b", "old-a"):
        MemberItem(*keys.member_key(t.tenant_id, member), tenant_id=t.tenant_id, member_id=member, version=1,
                   status="active", layout=2, created_at=T0).save()
    skip_streams()
    assert pages(t) == {}
    send(t, ledger, "checkin", "new")
    deliver_streams()
    # THEN the tenant lists all three, the old from the index and the new from its page
    assert list(ledger.members(t.tenant_id)) == ["new", "old-a", "old-b"]
    # WHEN `points migrate` pages the index's members, twice
    first, once = page_old_members(t.tenant_id), pages(t)
    second = page_old_members(t.tenant_id)
    # THEN both runs paged the two old members on the same page, key for key, and the list is unchanged
    assert first == second == (2, 1) and pages(t) == once
    assert sorted(pages(t).values()) == [["new"], ["old-a", "old-b"]]
    assert list(ledger.members(t.tenant_id)) == ["new", "old-a", "old-b"]


def test_a_member_paged_whose_item_is_gone_is_not_listed(make_tenant):
    # GIVEN a member paged, whose item was then removed (a newcomer undone after its writer died)
    t, ledger = tenant(make_tenant), PointsLedger()
    send(t, ledger, "checkin", "u1")
    send(t, ledger, "checkin", "gone")
    deliver_streams()
    MemberItem(*keys.member_key(t.tenant_id, "gone")).delete()
    # WHEN the tenant's members are listed
    # THEN the page still names it, and the list does not
    assert sorted(x for lines in pages(t).values() for x in lines) == ["gone", "u1"]
    assert list(ledger.members(t.tenant_id)) == ["u1"]


def test_a_stream_record_is_a_members_line_only_when_it_made_a_member():
    member = {"pk": {"S": "t1#u1"}, "sk": {"S": keys.BALANCE_SK}, "version": {"N": "1"}}
    assert member_line({"eventName": "INSERT", "dynamodb": {"NewImage": member}}) == ("t1", "u1")
    # a member written again, removed, or any other item: none
    assert member_line({"eventName": "MODIFY", "dynamodb": {"NewImage": member}}) is None
    assert member_line({"eventName": "REMOVE", "dynamodb": {}}) is None
    assert member_line({"eventName": "INSERT", "dynamodb": {"NewImage": {**member, "sk": {"S": "L#x"}}}}) is None
    assert member_line({"eventName": "INSERT"}) is None
