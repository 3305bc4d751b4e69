"""The keys of the deliveries table's items (layout: adapters/deliveries_tables.py): the one place that knows
how a group's day, a quota counter, an outcome page and a task awaiting its owner are found."""

from __future__ import annotations

import zlib
from datetime import date

DAY_SHARDS = 32
AWAITING_SHARDS = 8
PAGE_SK = "OUT"
WAIT_SK = "WAIT"


def day_pk(tenant_id: str, day: date, shard: int) -> str:
    """The partition of one shard of the tenant's local date: a query per shard lists the day."""
    return f"{tenant_id}#DAY#{day.isoformat()}#{shard:02d}"


def day_key(tenant_id: str, day: date, group_id: str) -> tuple[str, str]:
    """The (pk, sk) of a group's local day."""
    return day_pk(tenant_id, day, zlib.crc32(group_id.encode()) % DAY_SHARDS), group_id


def group_pk(tenant_id: str, group_id: str) -> str:
    return f"{tenant_id}#{group_id}"


def quota_sk(period_key: str) -> str:
    return f"QUOTA#{period_key}"


def counter_key(tenant_id: str, group_id: str, period_key: str) -> tuple[str, str]:
    """The (pk, sk) of a group's quota counter of one period."""
    return group_pk(tenant_id, group_id), quota_sk(period_key)


def quota_token(day: date, push_id: str) -> str:
    """A push's entry in its group's quota counter: the local date (MMDD) and the CRC-32 of its id, 12
    characters. Two pushes of one group and date would need the same checksum to be taken for each other."""
    return f"{day.month:02d}{day.day:02d}{zlib.crc32(push_id.encode()):08x}"


def page_pk(tenant_id: str, token: str) -> str:
    """The key (with PAGE_SK) of the outcome page of the tenant's records claimed with `token`."""
    return f"{tenant_id}#~out#{token}"


def page_entry(group_id: str, day: date, push_id: str) -> str:
    """A record's key on an outcome page."""
    return f"{group_id}#{day.isoformat()}#{push_id}"


def waiting_pk(tenant_id: str, msgid: str) -> str:
    return f"{tenant_id}#~wait#{msgid}"


def awaiting_keys(tenant_id: str, msgid: str) -> tuple[str, str]:
    """The `awaiting_owner` index keys of a task with groups waiting for its owner."""
    task = f"{tenant_id}#{msgid}"
    return awaiting_shard(zlib.crc32(task.encode())), task


def awaiting_shard(n: int) -> str:
    """The `awaiting_owner` partition of shard `n` (any whole number: taken modulo the shards)."""
    return f"{n % AWAITING_SHARDS:02d}"


def task_of(awaiting_sk: str) -> tuple[str, str]:
    """The tenant and msgid of a task, from its `awaiting_owner` sort key."""
    tenant_id, _, msgid = awaiting_sk.partition("#")
    return tenant_id, msgid
