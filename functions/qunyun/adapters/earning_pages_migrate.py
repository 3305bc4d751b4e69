"""`qunyun points migrate`, its second part: the pages of entries written before the points table's stream began.

PageEarnings pages every listed entry written since the stream was turned on. An entry written before (by the
code that listed entries in the `board` index) is paged here: member by member in the members index's order, each
member's entries in their written order, gathered per day's list into pages of PAGE_LINES. Only entries whose time
is before the stream's label are taken, and they never change, so a second run writes the same pages under the
same keys. An entry that PageEarnings paged as well (written around the stream's start) is read once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from qunyun.adapters import points_keys as keys
from qunyun.adapters.earning_pages import PAGE_LINES, EarningPages, listed
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import EntryItem


@dataclass
class Paged:
    entries: int = 0
    pages: int = 0
    before: str = ""  # the stream's start: entries written before it were paged here


class NoStream(RuntimeError):
    pass


def stream_began() -> datetime:
    """When the points table's stream was turned on (its label, a UTC time)."""
    table = EntryItem._get_connection().connection.describe_table(EntryItem.Meta.table_name)
    label = table.get("LatestStreamLabel")
    if not label:
        raise NoStream("the points table has no stream yet: deploy the stack (with PageEarnings) first")
    return datetime.fromisoformat(label).replace(tzinfo=UTC)


def _record(item: EntryItem) -> dict:
    """An entry as a stream record would show it: what `listed` reads."""
    return {"eventName": "INSERT", "dynamodb": {"NewImage": item.serialize()}}


def page_old_entries(tenant_id: str, before: datetime, ledger: PointsLedger | None = None,
                     store: EarningPages | None = None) -> Paged:
    ledger, store, paged = ledger or PointsLedger(), store or EarningPages(), Paged(before=before.isoformat())
    lines: dict[str, list[str]] = defaultdict(list)

    def flush(list_pk: str) -> None:
        paged.pages += store.write([(list_pk, lines.pop(list_pk))])

    for member_id in list(ledger.members(tenant_id)):
        pk = keys.member_pk(tenant_id, member_id)
        query = EntryItem.query(pk, EntryItem.sk.between("E#", keys.entry_sk(before)),
                                filter_condition=EntryItem.board_pk.exists())
        for item in query:
            found = listed(_record(item))
            if found is None:
                continue
            lines[found[0]].append(found[1])
            paged.entries += 1
            if len(lines[found[0]]) == PAGE_LINES:
                flush(found[0])
    for list_pk in sorted(lines):
        flush(list_pk)
    return paged
