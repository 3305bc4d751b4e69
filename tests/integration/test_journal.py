"""Entries a member item keeps instead of an item each (adapters/journal.py), against DynamoDB Local: an expiry or a
settlement written alone keeps its entry in its member item, and a member's kept entries move out, several to one
item, when the next would not fit.

Tried here: expiries written alone leave no entry item, and their entries are read, reconciled and counted where the
member keeps them; the fourteen settlements and expiries of a member's fourteen purchases fill what it keeps and move
out, and every read (every entry, a time span, pages of one, three and fifty) sees each entry once and in order; a
move-out whose writer lost its update (its entries in a JournalItem and still in the member, or in two JournalItems)
is read once; a start of a run that died before counting its expiries leaves them to the next start, which finds them
where the members keep them and counts each once; a write that would take the member item past 1 KB moves the
entries it keeps out first; entries a member item has no room to keep are put after it, as before."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from points_support import OnlyTenants
from qunyun.adapters import journal
from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import EntryItem, JournalItem, MemberItem
from qunyun.services.adjust import reconcile_member
from stream_support import settle
from support import item_bytes
from test_settle_batches import NOW, balance, send, shop

T0 = NOW - timedelta(days=30)


def entry_items(t, member: str) -> list[str]:
    """The kinds of the member's entry items (not those it keeps)."""
    return [i.kind for i in EntryItem.query(keys.member_pk(t.tenant_id, member), EntryItem.sk.startswith("E#"),
                                            consistent_read=True)]


def kept(t, member: str) -> list[dict]:
    return journal.read(MemberItem.get(*keys.member_key(t.tenant_id, member), consistent_read=True).journal)


def moved(t, member: str) -> list[JournalItem]:
    return list(JournalItem.query(keys.member_pk(t.tenant_id, member), JournalItem.sk.startswith(journal.JOURNAL_SK),
                                  consistent_read=True))


def run_at(t, at, ledger=None, name: str | None = None) -> dict:
    return settle(at, ledger=ledger or PointsLedger(), tenants=OnlyTenants(t.tenant_id),
                  job_name=name or uuid.uuid4().hex[:8])


def pages(t, member: str, limit: int) -> list[str]:
    """Every entry id of the member, newest first, read `limit` to a page."""
    ids, cursor = [], None
    for _ in range(100):
        page, cursor = PointsLedger().entries_page(t.tenant_id, member, limit, cursor)
        ids += [e.entry_id for e in page]
        if cursor is None:
            return ids
    raise AssertionError(f"no last page after 100: {ids}")


def every(t, member: str) -> list:
    return list(PointsLedger().all_entries(t.tenant_id, member))


def test_expiries_written_alone_are_kept_in_their_member_items(make_tenant):
    # GIVEN five members each with a check-in lot that has expired
    t = shop(make_tenant)
    for i in range(5):
        send(t, "checkin", f"c{i}", NOW - timedelta(days=5))
    # WHEN the run expires them
    summary = run_at(t, NOW)
    # THEN each expiry's entry is kept in its member item, not an item of its own, and reads as an entry
    assert summary["lots_expired"] == 5
    for i in range(5):
        assert entry_items(t, f"c{i}") == ["earn"]
        assert [line["kind"] for line in kept(t, f"c{i}")] == ["expire"]
        assert [e.kind for e in every(t, f"c{i}")] == ["earn", "expire"]
        assert pages(t, f"c{i}", 1) == [e.entry_id for e in reversed(every(t, f"c{i}"))]
        assert balance(t, f"c{i}")["available"] == 0
        assert reconcile_member(t.tenant_id, f"c{i}", ledger=PointsLedger()) == []
    # AND the entry says which window of the run counts it, and a time span that holds it reads it
    expire = every(t, "c0")[1]
    line = kept(t, "c0")[0]
    assert PointsLedger().piece_of(t.tenant_id, "c0", NOW, expire.entry_id) == (line["w"], expire.points)
    spanned = PointsLedger().entries_between(t.tenant_id, "c0", NOW - timedelta(minutes=1), NOW + timedelta(minutes=1))
    assert [e.kind for e in spanned] == ["expire"]


def fourteen_expiries(make_tenant):
    """A member who bought on fourteen days, each purchase settled and its lot expired by the daily runs after it."""
    t = shop(make_tenant)
    for d in range(20):
        if d < 14:
            send(t, "purchase", "k", T0 + timedelta(days=d), order_id=f"o{d}", amount_fen=1000 + 100 * d)
        run_at(t, T0 + timedelta(days=d, hours=1))
    return t


def test_a_members_kept_entries_move_out_and_read_once_in_order(make_tenant):
    # GIVEN fourteen settlements and fourteen expiries of one member, each written alone
    t = fourteen_expiries(make_tenant)
    # THEN the member item kept their entries until the next would not fit, then moved them out, several to an item
    entries = every(t, "k")
    assert [e.kind for e in entries].count("expire") == 14 and entry_items(t, "k").count("expire") == 0
    out = moved(t, "k")
    assert out and all(len(journal.lines_in(item)) > 1 for item in out)
    assert len(journal.stored(kept(t, "k"))) <= journal.KEPT
    assert sum(len(journal.lines_in(item)) for item in out) + len(kept(t, "k")) == 28  # its settlements' too
    assert entry_items(t, "k").count("settle") == 0
    # AND every read sees each entry once, in the order they were written
    order = [(e.created_at, e.entry_id) for e in entries]
    assert order == sorted(order) and len({e.entry_id for e in entries}) == len(entries) == 42
    newest_first = [e.entry_id for e in reversed(entries)]
    assert pages(t, "k", 1) == pages(t, "k", 3) == pages(t, "k", 50) == newest_first
    assert reconcile_member(t.tenant_id, "k", ledger=PointsLedger()) == []
    # AND a time span reads exactly the entries written in it, wherever they are kept
    start, end = T0 + timedelta(days=5), T0 + timedelta(days=11)
    between = [e.entry_id for e in PointsLedger().entries_between(t.tenant_id, "k", start, end)]
    assert between == [e.entry_id for e in entries if start <= e.created_at <= end] and len(between) > 6


def test_entries_moved_out_by_a_writer_that_then_lost_are_read_once(make_tenant):
    # GIVEN a member that keeps some expiries and has moved others out
    t = fourteen_expiries(make_tenant)
    before = [e.entry_id for e in every(t, "k")]
    held, out = kept(t, "k"), journal.lines_in(moved(t, "k")[0])
    assert held and len(out) > 1
    # WHEN writers put what it keeps into a JournalItem and lost their updates, and one whose read was older put
    # fewer of the entries it moved out before
    connection = PointsLedger()._connection
    pk = keys.member_pk(t.tenant_id, "k")
    journal.move_out(connection, pk, held)
    journal.move_out(connection, pk, out[:-1])
    # THEN every entry still reads once, in order, and balances reconcile
    assert [e.entry_id for e in every(t, "k")] == before
    assert pages(t, "k", 2) == list(reversed(before))
    assert reconcile_member(t.tenant_id, "k", ledger=PointsLedger()) == []


class DiesBeforeCounting(PointsLedger):
    def count(self, run, start, window, counters):
        raise RuntimeError("died before counting")


def test_a_later_start_counts_expiries_kept_in_member_items_once(make_tenant):
    # GIVEN three expiries written by a start that died before counting them
    t = shop(make_tenant)
    for i in range(3):
        send(t, "checkin", f"x{i}", NOW - timedelta(days=5))
    name = uuid.uuid4().hex[:8]
    with pytest.raises(RuntimeError):
        run_at(t, NOW, DiesBeforeCounting(), name)
    assert all(kept(t, f"x{i}") and balance(t, f"x{i}")["available"] == 0 for i in range(3))
    # WHEN the run is started again
    summary = run_at(t, NOW, PointsLedger(), name)
    # THEN it found each expiry where its member keeps it, and counted the three once
    assert summary["lots_expired"] == 3
    assert summary["points_expired"] == sum(-e.points for i in range(3) for e in every(t, f"x{i}")
                                            if e.kind == "expire")
    assert run_at(t, NOW, PointsLedger(), name) == {**summary, "repeated": True}


def test_a_write_with_no_room_beside_the_kept_entries_moves_them_out_first(make_tenant):
    # GIVEN a member keeping its expiries, given a long nickname: room for a check-in beside it, not beside them too
    t = fourteen_expiries(make_tenant)
    held = kept(t, "k")
    before = [e.entry_id for e in every(t, "k")]
    pk, sk = keys.member_key(t.tenant_id, "k")
    MemberItem(pk, sk).update(actions=[MemberItem.nickname.set("长" * 100)])
    # WHEN the member checks in
    send(t, "checkin", "k", NOW)
    # THEN what it kept was moved out before the check-in's write, whose member item stays under 1 KB
    assert kept(t, "k") == []
    assert any(journal.lines_in(item) == held for item in moved(t, "k"))
    raw = PointsLedger()._connection.client.get_item(TableName=MemberItem.Meta.table_name,
                                                     Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    assert "stage" in raw and item_bytes(raw) <= 1024
    assert item_bytes(raw) + len(journal.stored(held)) > 1024 - 60
    entries = [e.entry_id for e in every(t, "k")]
    assert entries[:-1] == before and len(entries) == len(before) + 1
    assert reconcile_member(t.tenant_id, "k", ledger=PointsLedger()) == []


def test_entries_with_no_room_to_be_kept_are_put_after_their_member_as_before(make_tenant, monkeypatch):
    # GIVEN a member item that may keep no entries at all
    monkeypatch.setattr(journal, "KEPT", 0)
    t = shop(make_tenant)
    send(t, "purchase", "u1", NOW - timedelta(days=3), order_id="o1", amount_fen=4200)
    send(t, "checkin", "c1", NOW - timedelta(days=5))
    # WHEN the run settles the purchase and expires the check-in's lot
    summary = run_at(t, NOW)
    # THEN their entries are items, put after their members' writes, and nothing is kept
    assert (summary["settled"], summary["lots_expired"]) == (1, 1)
    assert entry_items(t, "u1") == ["pending", "settle"] and entry_items(t, "c1") == ["earn", "expire"]
    assert kept(t, "u1") == kept(t, "c1") == [] and moved(t, "u1") == moved(t, "c1") == []
    assert all(reconcile_member(t.tenant_id, m, ledger=PointsLedger()) == [] for m in ("u1", "c1"))
