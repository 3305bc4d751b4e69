"""Work due at a time, through the content table's sparse `due` index (no Scan).

An item with work left (a flash group that has not ended, an event with a rung to send) carries
`due_pk = {kind}#{shard}` and `due_sk = {UTC instant, to the second}#{tenant}#{id}`; a job reads each shard up to its
scheduled time, oldest first, and removes or moves the keys when the work is done. Shards spread a busy
minute's writes over several partitions; the shard of an item is fixed by its tenant and id.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

from qunyun.adapters.tables import _DueContentItem

SHARDS = 4


def due_keys(kind: str, tenant_id: str, item_id: str, when: datetime) -> dict[str, str]:
    """The index attributes of an item whose work is due at `when` (an aware datetime)."""
    if when.utcoffset() is None:
        raise ValueError("expected an aware datetime")
    item = f"{tenant_id}#{item_id}"
    return {"due_pk": _due_pk(kind, zlib.crc32(item.encode()) % SHARDS), "due_sk": f"{_instant(when)}#{item}"}


def _due_pk(kind: str, shard: int) -> str:
    return f"{kind}#{shard}"


def _instant(when: datetime) -> str:
    """One fixed width, so instants sort as strings."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_items(model: type[_DueContentItem], kind: str, until: datetime, page: int = 100) -> Iterator[_DueContentItem]:
    """Every item of `kind` whose work is due at or before `until`, shard by shard, oldest first in each."""
    bound = _instant(until) + "#~"
    for shard in range(SHARDS):
        yield from model.due.query(_due_pk(kind, shard), model.due_sk <= bound, page_size=page)
