"""A day's earnings and redemptions as PageEarnings pages them from the points table's stream, on DynamoDB Local:
every listed entry is read once, however its batches were delivered (again, or split otherwise on a retry), and
nothing else in the stream makes a page."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import page_earnings
import pytest
from qunyun.adapters import earning_pages, metrics_sources, points_keys
from qunyun.adapters.earning_pages import EarningPages, page_lines
from qunyun.adapters.points_tables import EarningPageItem, EntryItem, MemberItem
from qunyun_ops.local.stack import ddb_client
from qunyun_ops.local.streams import StreamReader, streams_client
from stream_support import deliver_streams
from support import STACK, FakeContext

DAY = date(2026, 11, 25)
TZ = "Asia/Shanghai"
START = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # the day's first instant in Shanghai


def _entries(tenant_id: str, written: list[datetime], kind: str = "earn") -> None:
    listed = points_keys.board_day_pk if kind == "earn" else points_keys.redemptions_day_pk
    with EntryItem.batch_write() as batch:
        for n, at in enumerate(written):
            batch.save(EntryItem(points_keys.member_pk(tenant_id, f"m{n}"), points_keys.entry_sk(at, f"e{n}"),
                                 board_pk=listed(tenant_id, DAY.isoformat()), entry_id=f"e{n}", kind=kind,
                                 source_type="checkin" if kind == "earn" else "redemption", source_id=str(DAY),
                                 actor="member", points=n + 1 if kind == "earn" else -(n + 1), group_id=f"g{n % 3}",
                                 program_day=DAY.isoformat(), created_at=at))


def _pages(tenant_id: str) -> list[EarningPageItem]:
    return list(EarningPageItem.query(points_keys.pages_pk(points_keys.board_day_pk(tenant_id, DAY.isoformat()))))


@pytest.fixture
def stream():
    """A reader of the points table's stream from its current end: the records a test writes from now on."""
    deliver_streams()  # what earlier tests wrote is paged, and out of the way
    endpoint = os.environ["DYNAMODB_ENDPOINT"]
    reader = StreamReader.of_table(ddb_client(endpoint), streams_client(endpoint), f"{STACK}-points")
    reader.commit(reader.read()[1])
    return reader


def test_a_bunched_day_is_paged_and_read_once(tenant):
    # GIVEN 120 earning entries of the day: 100 within one second after the morning brief, some through the day,
    # some days late, one (by a skewed clock) before the day began
    rush = [START + timedelta(hours=8, microseconds=n * 10_000) for n in range(100)]
    through = [START + timedelta(hours=h) for h in range(1, 24, 2)]
    late = [START + timedelta(days=d, minutes=d) for d in (1, 2, 6)] + [START + timedelta(days=30)]
    written = rush + through + late + [START - timedelta(minutes=5)]
    _entries(tenant.tenant_id, written)
    # WHEN the stream is delivered and the rollup reads the day's earnings
    deliver_streams()
    earnings = metrics_sources.earnings_on(tenant.tenant_id, DAY, TZ)
    # THEN each entry comes back once, with its member, group, points and type
    assert sorted((e.member_id, e.group_id, e.points) for e in earnings) == sorted(
        (f"m{n}", f"g{n % 3}", n + 1) for n in range(len(written)))
    assert {e.source_type for e in earnings} == {"checkin"}
    # AND the day took one page, not an item per entry
    assert len(_pages(tenant.tenant_id)) == 1


def test_redemptions_are_listed_apart_from_earnings(tenant):
    _entries(tenant.tenant_id, [START + timedelta(hours=9, minutes=n) for n in range(3)], kind="spend")
    deliver_streams()
    assert metrics_sources.redemptions_on(tenant.tenant_id, DAY) == {"m0": 1, "m1": 1, "m2": 1}
    assert metrics_sources.earnings_on(tenant.tenant_id, DAY, TZ) == []


def test_a_batch_delivered_again_writes_the_same_page(tenant, stream):
    _entries(tenant.tenant_id, [START + timedelta(hours=h) for h in range(1, 6)])
    records, _ = stream.read()
    assert page_earnings.lambda_handler({"Records": records}, FakeContext())["entries"] == 5
    first = [(p.sk, p.entries) for p in _pages(tenant.tenant_id)]
    # WHEN Lambda delivers the same batch again (the invocation timed out after writing)
    page_earnings.lambda_handler({"Records": records}, FakeContext())
    # THEN the same page is written again under the same key: one page, five entries
    assert [(p.sk, p.entries) for p in _pages(tenant.tenant_id)] == first and len(first) == 1
    assert len(metrics_sources.earnings_on(tenant.tenant_id, DAY, TZ)) == 5


def test_a_batch_split_otherwise_on_a_retry_is_read_once(tenant, stream):
    _entries(tenant.tenant_id, [START + timedelta(hours=h) for h in range(1, 7)])
    records, _ = stream.read()
    # GIVEN the whole batch paged, then (a retry, bisected) its halves paged again
    for batch in (records, records[:3], records[3:]):
        page_earnings.lambda_handler({"Records": batch}, FakeContext())
    # THEN three pages hold the entries, and each entry is read once
    assert len(_pages(tenant.tenant_id)) == 3
    earnings = metrics_sources.earnings_on(tenant.tenant_id, DAY, TZ)
    assert sorted(e.points for e in earnings) == [1, 2, 3, 4, 5, 6]


def test_nothing_but_listed_entries_makes_a_page(tenant, stream):
    # GIVEN a member written and changed, an entry not listed under a day (an adjustment's), and a listed entry
    # deleted (no code deletes one; a REMOVE record carries no new image)
    member = MemberItem(points_keys.member_pk(tenant.tenant_id, "m0"), points_keys.BALANCE_SK,
                        tenant_id=tenant.tenant_id, member_id="m0", created_at=START)
    member.save()
    member.update(actions=[MemberItem.earned.add(5)])
    EntryItem(member.pk, points_keys.entry_sk(START, "adj"), entry_id="adj", kind="adjust", source_type="adjustment",
              source_id="a1", actor="op", points=5, created_at=START).save()
    _entries(tenant.tenant_id, [START + timedelta(hours=1)])
    EntryItem(points_keys.member_pk(tenant.tenant_id, "m0"), points_keys.entry_sk(START + timedelta(hours=1), "e0")
              ).delete()
    records, _ = stream.read()
    assert len(records) == 5
    # WHEN they are delivered
    summary = page_earnings.lambda_handler({"Records": records}, FakeContext())
    # THEN only the listed entry's insert is paged under its day, and the member's insert under the tenant's members
    # (member_pages.py); the member's rewrite pages nothing
    assert (summary["entries"], summary["members"], summary["pages"]) == (1, 1, 2)


def test_a_long_day_is_split_into_pages(tenant, monkeypatch):
    monkeypatch.setattr(earning_pages, "PAGE_LINES", 7)
    _entries(tenant.tenant_id, [START + timedelta(minutes=n) for n in range(30)])
    deliver_streams()
    assert sorted(len(page_lines(p, "entries")) for p in _pages(tenant.tenant_id)) == [2, 7, 7, 7, 7]
    assert len(list(EarningPages().entries(points_keys.board_day_pk(tenant.tenant_id, DAY.isoformat())))) == 30


def test_a_stream_record_of_an_entry_is_read_as_its_line():
    sk = "E#2026-11-25T01:00:00.000000+00:00#e1"
    image = {"pk": {"S": "t#m1"}, "sk": {"S": sk}, "board_pk": {"S": "t#2026-11-25"}, "points": {"N": "5"},
             "source_type": {"S": "checkin"}, "group_id": {"S": "g1"}}
    assert earning_pages.listed({"eventName": "INSERT", "dynamodb": {"NewImage": image}}) == (
        "t#2026-11-25", f"t#m1\t{sk}\tg1\t5\tcheckin")
    no_group = {k: v for k, v in image.items() if k != "group_id"}
    line = earning_pages.listed({"eventName": "MODIFY", "dynamodb": {"NewImage": no_group}})[1]
    assert line == f"t#m1\t{sk}\t\t5\tcheckin"
    assert earning_pages.listed({"eventName": "REMOVE", "dynamodb": {"OldImage": image}}) is None
    a_lot = {**image, "sk": {"S": "L#2027-12-31"}}
    assert earning_pages.listed({"eventName": "INSERT", "dynamodb": {"NewImage": a_lot}}) is None
