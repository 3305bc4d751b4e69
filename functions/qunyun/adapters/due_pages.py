"""The pages of lots by when they fall due (points_tables.DuePageItem): written by PageEarnings from the points table's
stream, read by SettlePoints. A lot that gets a due time (a purchase's or an invite's pending points by when they
settle, available points by when they expire) is written alone, with `due_at`, and `due_new` on the write that gave
the due time; its line comes a batch later, many lines to a write unit, instead of a `lots_due` index entry made and
removed in the requests.

A shard's pages sort by the hour their lines fall due. A run reads every page up to its own hour and works the lines
due by its time. It deletes the pages whose every line was due once their work is written (`handled`): a page of an
earlier hour always, one of its own hour when nothing on it falls due later. It keeps a page that lists a tenant
the run did not work. With runs on the hour, a line is read once: by the first run after its lot falls due, which
lets its page go. A line is a hint, never the truth: the job reads the lot and leaves it when it is no longer due
(settled, spent, expired), and a lot paged again by a later write, in a batch delivered again or paged otherwise on
a retry, is worked once a run."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from qunyun.adapters import points_keys as keys
from qunyun.adapters.earning_pages import LISTED, page_lines, put_pages
from qunyun.adapters.points_tables import DuePageItem
from qunyun.domain.ledger import LotId

HOUR = 13  # "2026-12-08T16": an ISO instant's hour


def due_line(record: dict) -> tuple[tuple[str, str], str] | None:
    """((its shard, its hour), its line) for a stream record of a write that gave a lot its due time (`due_new`); None
    for any other."""
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    if record.get("eventName") not in LISTED or "S" not in image.get("due_new", {}):
        return None
    pk, sk, at = image["pk"]["S"], image["sk"]["S"], image["due_new"]["S"]
    if sk == keys.RECORD_SK["purchase"] and keys.is_order(pk) and "S" in image.get("member_id", {}):
        # a purchase's pending lot, held in its order (order_lots.py): listed as the member's lot it is
        sk = keys.lot_sk(LotId("purchase", keys.record_id(pk)))
        pk = keys.member_pk(keys.record_tenant("purchase", pk), image["member_id"]["S"])
    elif sk == keys.BALANCE_SK:  # a lot its member holds (held_lots.py), named by its expiry
        sk = keys.lot_sk(LotId.expiring(at))
    elif not sk.startswith(("L#", "P#")):
        return None
    return (keys.due_shard(pk), at[:HOUR]), "\t".join((pk, sk, at))  # keys and instants hold no tab


class DuePages:
    def __init__(self) -> None:
        # The pages `due` read whose every line was due, with the tenants they list: deleted by `handled`.
        self._read: list[tuple[str, str, set[str]]] = []

    def write(self, lists: Iterable[tuple[tuple[str, str], list[str]]]) -> int:
        """Puts each ((shard, hour), lines) as pages sorted by their hour (earning_pages.put_pages); returns how
        many."""
        return put_pages(DuePageItem, ((keys.due_pages_pk(shard), f"{hour}#", lines)
                                       for (shard, hour), lines in lists))

    def due(self, until: str, page: int = 100) -> Iterator[list[tuple[str, str, LotId]]]:
        """Lists of up to `page` (tenant, member, lot) due by `until`, each lot once, shard by shard in due order."""
        hour, seen = until[:HOUR], set()
        for shard in keys.due_queues():
            work: list[tuple[str, str, LotId]] = []
            for item in DuePageItem.query(keys.due_pages_pk(shard), DuePageItem.sk <= f"{keys.PAGE_SK}{hour}#~"):
                lines = [line.split("\t") for line in page_lines(item, "lots")]
                for pk, sk, at in lines:
                    if at > until or (pk, sk) in seen:
                        continue
                    seen.add((pk, sk))
                    work.append((*keys.split_member_pk(pk), keys.lot_of(sk)))
                    if len(work) == page:
                        yield work
                        work = []
                # A page whose every line was due may be let go once its lines are written: they are in the lists
                # handed out by the time the run next calls `handled`, between lists.
                if all(at <= until for _, _, at in lines):
                    self._read.append((item.pk, item.sk, {keys.split_member_pk(pk)[0] for pk, _, _ in lines}))
            if work:
                yield work

    def handled(self, skipped: set[str] = frozenset()) -> int:
        """Deletes the pages `due` read whose every line was due and has been handed out, their work written (call it
        between lists, once what they held is written), but those that list a tenant in `skipped` (one the run did
        not work): they are read again by the next run. Returns how many it deleted."""
        done = [(pk, sk) for pk, sk, tenants in self._read if not tenants & skipped]
        with DuePageItem.batch_write() as batch:
            for pk, sk in done:
                batch.delete(DuePageItem(pk, sk))
        self._read = []
        return len(done)
