"""PageEarnings: what a batch of the points table's stream wrote, paged under its list: an entry under its program
day's list, a lot with a due time under its due shard and hour.

Leaderboards, flash groups' figures and RollupMetrics read a day's earnings (and its redemptions) from these
pages, and SettlePoints the lots due. They lag the ledger by the stream's batching window; leaderboards of a
finished day are built at 02:00 local, and a lot falls due days after it is written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol


class PageStore(Protocol):
    def write(self, pages: Iterable[tuple[Any, list[str]]]) -> int: ...


def page_batch(records: Iterable[dict], listed, store: PageStore) -> dict:
    """Writes the listed entries among `records` (`listed` names a record's list and line, or None), each list's
    in the batch's order, as that list's pages (the store says how many lines a page holds); returns what it
    wrote."""
    lines: dict[Any, list[str]] = defaultdict(list)
    for record in records:
        if (found := listed(record)) is not None:
            lines[found[0]].append(found[1])
    return {"entries": sum(len(v) for v in lines.values()), "lists": len(lines),
            "pages": store.write(lines.items())}
