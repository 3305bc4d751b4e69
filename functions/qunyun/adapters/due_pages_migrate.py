"""`qunyun points migrate`, its third part: the due pages of lots written before them.

PageEarnings pages every lot that gets a due time since the due pages came. A lot written before (listed in the
`lots_due` index by `due_pk`/`due_sk`, which nothing reads any more) is paged here: member by member in the members
index's order, each of its lots that still carries a due time, gathered per due shard and hour and sorted, so a
second run over lots as they were writes the same pages under the same keys. A lot paged twice is read once."""

from __future__ import annotations

from collections import defaultdict

from qunyun.adapters import points_keys as keys
from qunyun.adapters.due_pages import HOUR, DuePages
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import LotItem


def _due_at(item: LotItem) -> str | None:
    if item.due_at:
        return item.due_at
    return keys.due_sk_time(item.due_sk) if item.due_sk else None


def page_old_due(tenant_id: str, ledger: PointsLedger | None = None, store: DuePages | None = None) -> tuple[int, int]:
    """Pages the tenant's lots that carry a due time; returns (lots, pages)."""
    ledger, store = ledger or PointsLedger(), store or DuePages()
    lines: dict[tuple[str, str], list[str]] = defaultdict(list)
    for member_id in list(ledger.members(tenant_id)):
        pk = keys.member_pk(tenant_id, member_id)
        for item in LotItem.query(pk, LotItem.sk.between(keys.lot_prefix(False), keys.lot_prefix(True) + "~"),
                                  consistent_read=True):
            at = _due_at(item)
            if at and item.sk.startswith((keys.lot_prefix(False), keys.lot_prefix(True))):
                lines[(keys.due_shard(pk), at[:HOUR])].append("\t".join((pk, item.sk, at)))
    pages = store.write((key, sorted(lines[key])) for key in sorted(lines))
    return sum(len(v) for v in lines.values()), pages
