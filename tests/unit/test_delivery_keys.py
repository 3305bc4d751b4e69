"""The deliveries table's keys and the flash groups' stored view: pure functions, no table needed."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime

import pytest
from qunyun.adapters.delivery_keys import (
    AWAITING_SHARDS,
    DAY_SHARDS,
    awaiting_keys,
    awaiting_shard,
    day_key,
    day_pk,
    task_of,
)
from qunyun.adapters.flash import StoredFlash, flash_key
from qunyun.adapters.tables import FlashItem


@pytest.mark.parametrize("first", [0, 3, 7, 8, 1_964_123])
def test_a_run_starting_at_any_shard_reads_every_awaiting_shard_once(first):
    # GIVEN the first shard a follow-up run starts at (the service passes a growing number, not a shard)
    # WHEN the run reads the shards in turn
    read = [awaiting_shard(first + n) for n in range(AWAITING_SHARDS)]
    # THEN it reads each shard exactly once, starting where the number says
    assert sorted(read) == [f"{n:02d}" for n in range(AWAITING_SHARDS)]
    assert read[0] == f"{first % AWAITING_SHARDS:02d}"


def test_a_task_is_found_again_from_its_index_keys():
    # GIVEN a task's keys in the awaiting_owner index
    shard, task = awaiting_keys("t1", "msg#1")
    # THEN its shard is one of the shards read, and the tenant and msgid come back from its sort key
    assert shard in {awaiting_shard(n) for n in range(AWAITING_SHARDS)}
    assert task_of(task) == ("t1", "msg#1")


def test_a_groups_day_is_in_one_of_the_shards_a_listing_queries():
    # GIVEN a group's day key
    pk, sk = day_key("t1", date(2026, 12, 4), "g-42")
    # THEN a listing of the day, which queries every shard's partition, finds it
    assert sk == "g-42"
    assert pk in {day_pk("t1", date(2026, 12, 4), n) for n in range(DAY_SHARDS)}


def test_the_stored_view_of_a_flash_group_carries_every_field_of_its_item():
    # GIVEN a flash group's item with every attribute set
    at = datetime(2026, 12, 4, 12, tzinfo=UTC)
    item = FlashItem(*flash_key("t1", "f1"), group_id="f1", ends_at=at, terms={"after_sales": {}}, state="ended",
                     farewell_date="2026-12-04", top=[{"rank": 1}], owner_must_dismiss="zhang", report={"members": 3},
                     ended_at=at, dissolved_at=at)
    # WHEN the services' view of it is made
    stored = StoredFlash.of(item)
    # THEN the tenant comes from its key and every other field is the item's attribute of that name
    assert stored.tenant_id == "t1"
    assert {f.name: getattr(stored, f.name) for f in fields(StoredFlash) if f.name != "tenant_id"} == {
        "group_id": "f1", "state": "ended", "ends_at": at, "terms": {"after_sales": {}},
        "farewell_date": "2026-12-04", "top": [{"rank": 1}], "owner_must_dismiss": "zhang",
        "report": {"members": 3}, "ended_at": at, "dissolved_at": at}
