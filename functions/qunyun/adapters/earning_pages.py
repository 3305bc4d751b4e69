"""The pages of each program day's listed entries (points_tables.EarningPageItem): written by PageEarnings from the
points table's stream, read by leaderboards, flash groups and RollupMetrics. An earning entry or a redemption's
spend names its day's list (`board_pk`) and is written alone; its page comes a batch later, compressed, many entries
to a write unit, instead of an index entry per entry in the request."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_tables import EarningPageItem, MallOrderItem
from qunyun.domain.ledger import entry_id

PAGE_LINES = 2000  # at about 80 bytes a line, about 160 KB: under DynamoDB's 400 KB an item
LISTED = ("INSERT", "MODIFY")  # an entry is never removed; a MODIFY is an entry written again (a roll-forward's)


def listed(record: dict) -> tuple[str, str] | None:
    """(its list, its line) for a stream record of an entry listed under a day; None for any other record."""
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    if record.get("eventName") not in LISTED or "S" not in image.get("board_pk", {}):
        return None
    sk = image.get("sk", {}).get("S", "")
    if sk == keys.RECORD_SK["redemption"]:
        return _order_listed(image)
    if not sk.startswith("E#"):
        return None
    group = image.get("group_id", {}).get("S", "")
    # Member, group and event ids hold no tab or newline (domain/events.py ID), nor do entry keys.
    line = "\t".join((image["pk"]["S"], sk, group, image["points"]["N"], image["source_type"]["S"]))
    return image["board_pk"]["S"], line


def _order_listed(image: dict) -> tuple[str, str] | None:
    """A redemption whose member item keeps its spend (kept_spend.py), as its entry item would have been listed: from
    the order as claimed (version 0), not from its later updates nor a void."""
    if image.get("version", {}).get("N") != "0" or image.get("void", {}).get("BOOL") or "token" not in image:
        return None
    pk = image["pk"]["S"]
    member = keys.member_pk(keys.record_tenant("redemption", pk), image["member_id"]["S"])
    at = MallOrderItem.created_at.deserialize(image["created_at"]["S"])
    sk = keys.entry_sk(at, entry_id("redeem", keys.record_id(pk)))
    line = "\t".join((member, sk, "", str(-int(image["points_spent"]["N"])), "redemption"))
    return image["board_pk"]["S"], line


def chunked(lines: list[str]) -> Iterator[tuple[str, bytes]]:
    """The lines as pages of up to PAGE_LINES, each as a digest of what it holds and its text."""
    for i in range(0, len(lines), PAGE_LINES):
        text = "\n".join(lines[i:i + PAGE_LINES]).encode()
        yield hashlib.sha256(text).hexdigest()[:24], text


def put_pages(model, lists: Iterable[tuple[str, str, list[str]]]) -> int:
    """Puts each (pages' pk, sort prefix, lines) as items of `model`, the lines compressed in `z`, 25 to a
    BatchWriteItem; a page's sort key is `PG#{prefix}{digest of what it holds}`, so the same batch delivered again
    writes the same item (the due and member pages use it too). Returns how many.

    A page is billed by the kilobyte, written and deleted: its lines share their tenant, day and key shapes, and
    compressed they take about a third of the bytes (docs/ledger.md)."""
    n = 0
    with model.batch_write() as batch:
        for pk, prefix, lines in lists:
            for digest, text in chunked(lines):
                batch.save(model(pk, f"{keys.PAGE_SK}{prefix}{digest}", z=zlib.compress(text, 9)))
                n += 1
    return n


def page_lines(page, attr: str) -> list[str]:
    """A page's lines: from `z`, or from the text attribute `attr` of a page written before pages were compressed."""
    text = zlib.decompress(page.z).decode() if page.z is not None else getattr(page, attr)
    return text.split("\n")


def lines_once(model, attr: str, pk: str) -> Iterator[str]:
    """Every line of the pages under `pk` once (a line on two pages, from a batch split otherwise, is read once)."""
    seen: set[str] = set()
    for page in model.query(pk, model.sk.startswith(keys.PAGE_SK)):
        for line in page_lines(page, attr):
            if line not in seen:
                seen.add(line)
                yield line


class Listed(NamedTuple):
    """An entry as its day's list holds it: its keys and the attributes boards and metrics read (a plain tuple:
    a tenant's day may list half a million)."""

    pk: str
    sk: str
    group_id: str | None
    points: int
    source_type: str


def _listed(line: str) -> Listed:
    pk, sk, group, points, source_type = line.split("\t")
    return Listed(pk, sk, group or None, int(points), source_type)


class EarningPages:
    def write(self, lists: Iterable[tuple[str, list[str]]]) -> int:
        """Puts each (list, lines) as pages of up to PAGE_LINES lines, 25 to a BatchWriteItem; returns how many."""
        return put_pages(EarningPageItem, ((keys.pages_pk(pk), "", lines) for pk, lines in lists))

    def entries(self, list_pk: str) -> Iterator[Listed]:
        """Every entry of a day's list once, read a page at a time."""
        for line in lines_once(EarningPageItem, "entries", keys.pages_pk(list_pk)):
            yield _listed(line)
