"""A member's journal (docs/ledger.md, "A run's entries kept in the member item"): entries the change that made them
keeps in the member item it writes anyway (`MemberItem.journal`), instead of an entry item each, and that are moved
out together, several to one JournalItem, when the member item has no room for the next.

An entry in the journal is the entry as plain fields (points_stage_rest `entry_fields`), its time (`at`) and, for a
scheduled run's piece, the run's window that counts it (`w`). Its key is the one its entry item would have had,
`E#{time}#{entry id}`, so entries sort and page alike wherever they are kept. A JournalItem is keyed `J#` and the
key of its newest entry: a member's entries are written in its versions' order, so each JournalItem holds the entries
after the one before it, up to its key, and the first JournalItem at or after an entry's key is the one that holds it.

Moving out is a put of the journal as the member item held it, then the member's update under its version condition
that keeps only what is new. A writer that loses the race after the put leaves a JournalItem whose entries the member
still holds, or that another JournalItem holds as well: readers read each entry once, by its key.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.connection import Connection

from qunyun.adapters import held_lots
from qunyun.adapters import points_keys as keys
from qunyun.adapters.held_lots import Held
from qunyun.adapters.points_stage_rest import entry_fields, entry_of
from qunyun.adapters.points_tables import TABLE, JournalItem
from qunyun.domain.ledger import Entry, MemberChange

JOURNAL_SK = "J#"
KEPT = 640  # the most bytes of entries a member item keeps, compressed: about twenty settlements and expiries
LIMIT = 1024 - 60  # what a member item may be, as estimated (standing.MARGIN to spare), and cost 1 unit a write
_LAST = "~"  # after every key of an entry


@dataclass
class Room:
    """What a write of a member does with the entries the member item keeps: keeps `kept` (and sets them, `changed`),
    having first moved out `moving`."""

    kept: list[dict] = field(default_factory=list)
    moving: list[dict] = field(default_factory=list)
    changed: bool = False


def room(change: MemberChange, split: Held, stage: tuple[str, dict] | None = None, new: list[dict] = ()
         ) -> Room | None:
    """The journal after the change, with its `new` lines: kept where the member item stays within LIMIT with them
    and what the change writes (its lots, its stage), else moved out first; None where even `new` would not fit."""
    base = held_lots.stored_size(change, held_lots.held_after(change, split))
    if stage is not None:
        base += len(json.dumps(stage[1], separators=(",", ":"))) + len(stage[0]) + 24  # with the attributes' names
    held, new = change.member.journal, list(new)
    if _fits(base, held + new):
        return Room(held + new, [], bool(new))
    if new and not _fits(base, new):
        return None
    return Room(new, held, bool(held or new))


def _fits(base: int, lines: list[dict]) -> bool:
    kept = len(stored(lines)) + len("journal") if lines else 0
    return kept <= KEPT and base + kept <= LIMIT


def line_of(entry: Entry, at: datetime, window: int | None = None) -> dict:
    """An entry as the journal keeps it."""
    line = {**entry_fields(entry), "at": at.astimezone(UTC).isoformat(timespec="microseconds")}
    if window is not None:
        line["w"] = window
    return line


def line_sk(line: dict) -> str:
    """The entry's key: the one its entry item would have."""
    return keys.entry_sk(datetime.fromisoformat(line["at"]), line["entry_id"])


def entry_from(line: dict) -> Entry:
    fields = {k: v for k, v in line.items() if k not in ("at", "w")}
    entry = entry_of(fields)
    entry.created_at = datetime.fromisoformat(line["at"])
    return entry


def stored(lines: list[dict]) -> bytes:
    """Lines as a member item or a JournalItem keeps them: JSON, compressed (an entry's fields repeat each other's
    and the other entries' values, so each entry after the first adds a few dozen bytes)."""
    return zlib.compress(json.dumps(lines, separators=(",", ":")).encode(), 9)


def read(blob: bytes | None) -> list[dict]:
    return json.loads(zlib.decompress(blob)) if blob else []


def moved_out(pk: str, lines: list[dict]) -> JournalItem:
    """The JournalItem that holds `lines`, keyed by the newest; the same lines make the same item."""
    return JournalItem(pk, JOURNAL_SK + line_sk(lines[-1])[2:], z=stored(lines))


def move_out(connection: Connection, pk: str, lines: list[dict]) -> None:
    """Puts the journal a member item holds as its JournalItem: the first half of moving it out."""
    connection.client.put_item(TableName=TABLE, Item=moved_out(pk, lines).serialize())


def lines_in(item: JournalItem) -> list[dict]:
    return read(item.z)


class JournalReads:
    """A member's journaled entries: those moved out, read from its JournalItems, and those its member item holds,
    which the caller reads (consistently, before these: an entry moved out after the member was read is then
    found in its JournalItem)."""

    def __init__(self, consistent: bool = True) -> None:
        self.consistent = consistent

    def between(self, pk: str, held: list[dict], low: str = "E#", high: str = "E#" + _LAST) -> list[tuple[str, dict]]:
        """(key, line) of the journaled entries whose keys are in [low, high], oldest first, each once."""
        items = JournalItem.query(pk, JournalItem.sk.between(_j(low), JOURNAL_SK + _LAST),
                                  consistent_read=self.consistent)
        found = []
        for item in items:
            found += lines_in(item)
            if item.sk >= _j(high):  # the first JournalItem past `high` may hold some; those after, none
                break
        return once((line_sk(line), line) for line in [*found, *held] if low <= line_sk(line) <= high)

    def newest_below(self, pk: str, held: list[dict], below: str | None, n: int) -> list[tuple[str, dict]]:
        """Up to about `n` (key, line) of the journaled entries whose keys are below `below` (all without it), newest
        first, each once: the JournalItems at or after `below` only for the one that may hold entries below it."""
        top = _j(below) if below else JOURNAL_SK + _LAST
        lines: list[dict] = []
        if below:
            straddling = JournalItem.query(pk, JournalItem.sk.between(top, JOURNAL_SK + _LAST), limit=1,
                                           consistent_read=self.consistent)
            lines += [line for item in straddling for line in lines_in(item)]
        for item in JournalItem.query(pk, JournalItem.sk.between(JOURNAL_SK, top), scan_index_forward=False,
                                      limit=n, page_size=n, consistent_read=self.consistent):
            lines += lines_in(item)
        kept = [line for line in [*lines, *held] if below is None or line_sk(line) < below]
        return once(((line_sk(line), line) for line in kept), newest_first=True)

    def at(self, pk: str, held: list[dict], sk: str) -> dict | None:
        """The journaled entry keyed `sk`, if any."""
        for line in held:
            if line_sk(line) == sk:
                return line
        for item in JournalItem.query(pk, JournalItem.sk.between(_j(sk), JOURNAL_SK + _LAST), limit=1,
                                      consistent_read=self.consistent):
            return next((line for line in lines_in(item) if line_sk(line) == sk), None)
        return None


def once(keyed: Iterable[tuple[str, dict]], newest_first: bool = False) -> list[tuple[str, dict]]:
    """Each key once, in key order."""
    return sorted(dict(keyed).items(), reverse=newest_first)


def merged(items: Iterator[tuple[str, Entry]], journaled: list[tuple[str, dict]], newest_first: bool = False
           ) -> list[tuple[str, Entry]]:
    """Entry items and journaled entries as one list in key order, each key once."""
    both = dict(items)
    both.update((sk, entry_from(line)) for sk, line in journaled if sk not in both)
    return sorted(both.items(), key=lambda kv: kv[0], reverse=newest_first)


def _j(entry_key: str) -> str:
    """The JournalItem key that an entry key `E#...` sorts as."""
    return JOURNAL_SK + entry_key[2:]
