"""Pages (a day's entries, the lots due in an hour, a tenant's members) are written with their lines compressed, on
DynamoDB Local: a page takes under half the bytes its lines do as text, and so fewer write units to write and to
let go. A page written before, its lines as text, still reads, beside the compressed ones, each line once."""

from __future__ import annotations

import zlib

from qunyun.adapters import points_keys as keys
from qunyun.adapters.due_pages import DuePages
from qunyun.adapters.earning_pages import EarningPages, page_lines
from qunyun.adapters.member_pages import MemberPages
from qunyun.adapters.points_tables import TABLE, DuePageItem, EarningPageItem, MemberPageItem
from qunyun.domain.ledger import LotId

DAY = "2026-11-25"
HOUR = "2001-01-01T00"  # before any other test's lots: a run up to it reads this test's pages only


def earning_line(tenant_id: str, n: int) -> str:
    at = f"2026-11-25T0{n % 10}:00:00.{n:06d}+00:00"
    return "\t".join((keys.member_pk(tenant_id, f"m{n:05d}"), f"E#{at}#checkin:ev{n}", f"g{n % 40:04d}",
                      str(n % 7 + 1), "checkin"))


def stored(model, pk: str) -> dict[str, dict]:
    """The page items under `pk` as DynamoDB holds them, by sort key."""
    client = model._get_connection().connection.client
    items = client.query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues={":pk": {"S": pk}})["Items"]
    return {item["sk"]["S"]: item for item in items}


def test_a_page_is_stored_compressed_in_under_half_its_lines_bytes(tenant):
    # GIVEN a day's list of 300 check-ins of one tenant, as PageEarnings would write them
    t, list_pk = tenant.tenant_id, keys.board_day_pk(tenant.tenant_id, DAY)
    lines = [earning_line(t, n) for n in range(300)]
    # WHEN they are paged
    assert EarningPages().write([(list_pk, lines)]) == 1
    # THEN the one page holds them compressed, no text beside, in under half the bytes they take as text
    (item,) = stored(EarningPageItem, keys.pages_pk(list_pk)).values()
    assert set(item) == {"pk", "sk", "z"}
    text = "\n".join(lines).encode()
    assert zlib.decompress(item["z"]["B"]) == text
    assert len(item["z"]["B"]) < 0.5 * len(text), (len(item["z"]["B"]), len(text))
    # AND they read back in order, each once
    assert ["\t".join((e.pk, e.sk, e.group_id or "", str(e.points), e.source_type))
            for e in EarningPages().entries(list_pk)] == lines


def test_a_text_page_written_before_reads_beside_compressed_ones_each_line_once(tenant):
    # GIVEN a day's list with a page written before pages were compressed (lines 0-9, as text) and a compressed one
    # (lines 5-14: a batch split otherwise on a retry lists 5-9 twice)
    t, list_pk = tenant.tenant_id, keys.board_day_pk(tenant.tenant_id, DAY)
    EarningPageItem(keys.pages_pk(list_pk), f"{keys.PAGE_SK}old",
                    entries="\n".join(earning_line(t, n) for n in range(10))).save()
    EarningPages().write([(list_pk, [earning_line(t, n) for n in range(5, 15)])])
    # WHEN the list is read
    read = [e.pk for e in EarningPages().entries(list_pk)]
    # THEN every entry of both is read once
    assert sorted(read) == sorted(keys.member_pk(t, f"m{n:05d}") for n in range(15))


def test_a_tenants_members_read_from_text_and_compressed_pages(tenant):
    # GIVEN a tenant's members: three on a page written as text, two more and one again on a compressed page
    t = tenant.tenant_id
    MemberPageItem(keys.members_pages_pk(t), f"{keys.PAGE_SK}old", members="m1\nm2\nm3").save()
    MemberPages().write([(t, ["m3", "m4", "m5"])])
    # WHEN they are listed
    listed = list(MemberPages().listed(t))
    # THEN each once
    assert sorted(listed) == ["m1", "m2", "m3", "m4", "m5"]
    old = MemberPageItem.get(keys.members_pages_pk(t), f"{keys.PAGE_SK}old")
    assert page_lines(old, "members") == ["m1", "m2", "m3"]


def test_due_lots_read_from_text_and_compressed_pages_and_both_are_let_go(tenant):
    # GIVEN lots due in one hour of 2001, on one due shard: two on a page written as text, two on a compressed one
    t = tenant.tenant_id
    pk = keys.member_pk(t, "m1")
    shard = keys.due_shard(pk)
    due = [f"{pk}\tP#purchase#o{n}\t{HOUR}:1{n}:00+00:00" for n in range(4)]
    DuePageItem(keys.due_pages_pk(shard), f"{keys.PAGE_SK}{HOUR}#old", lots="\n".join(due[:2])).save()
    DuePages().write([((shard, HOUR), due[2:])])
    # WHEN a run reads what is due by the hour's end
    pages = DuePages()
    work = [w for listed in pages.due(f"{HOUR}:59:59+00:00") for w in listed]
    # THEN it finds the four lots, each once
    assert sorted(work, key=lambda w: w[2].name) == [(t, "m1", LotId("purchase", f"o{n}")) for n in range(4)]
    # AND once their work is written both pages are let go
    assert pages.handled() == 2
    assert not [sk for sk in stored(DuePageItem, keys.due_pages_pk(shard)) if sk.startswith(f"{keys.PAGE_SK}{HOUR}#")]
