"""Dispatch pages: a slot's groups cut into pages a SendMessageBatch can carry ten of, named by their groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qunyun.domain.dispatch_pages import PAGE_BYTES, PAGE_GROUPS, DispatchPage, PageMember, paginate

NOW = datetime(2026, 12, 1, 0, 2, tzinfo=UTC)
SLOT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def members(n: int, owner: str | None = None) -> list[PageMember]:
    return [PageMember("t1", f"g{i:05d}", "outbox", owner, None) for i in range(n)]


def test_a_slot_is_cut_into_pages_of_at_most_page_groups_in_its_order():
    pages = list(paginate(NOW, SLOT, "Asia/Shanghai", "morning", members(2 * PAGE_GROUPS + 1)))
    assert [len(p.members) for p in pages] == [PAGE_GROUPS, PAGE_GROUPS, 1]
    assert [m for p in pages for m in p.members] == members(2 * PAGE_GROUPS + 1)
    assert list(paginate(NOW, SLOT, "Asia/Shanghai", "morning", [])) == []


def test_long_fields_cut_pages_by_bytes_so_ten_fit_a_send_batch():
    pages = list(paginate(NOW, SLOT, "Asia/Shanghai", "morning", members(PAGE_GROUPS, owner="负责人" * 40)))
    assert len(pages) > 1
    assert all(len(p.to_json().encode()) <= PAGE_BYTES + 1_000 for p in pages)
    assert 10 * max(len(p.to_json().encode()) for p in pages) < 256 * 1024


def test_a_page_travels_as_json_and_is_named_by_its_slot_and_groups_not_the_runs_time():
    page = next(paginate(NOW, SLOT, "Asia/Kolkata", "evening", members(3, owner="o")))
    assert DispatchPage.from_json(page.to_json()) == page
    rerun = DispatchPage(NOW + timedelta(minutes=5), SLOT, "Asia/Kolkata", "evening", page.members)
    assert rerun.digest == page.digest and rerun.slot_id == page.slot_id
    other = DispatchPage(NOW, SLOT, "Asia/Kolkata", "evening", page.members[:2])
    assert other.digest != page.digest
    assert page.slot_id != DispatchPage(NOW, SLOT, "Asia/Kolkata", "morning", page.members).slot_id
