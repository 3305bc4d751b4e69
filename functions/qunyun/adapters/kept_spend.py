"""A staged redemption's spend entry kept in its member item (docs/ledger.md, "A redemption's spend kept in its
member item"): the stage's own update of the member writes the entry into the member's journal (journal.py), so the
redemption writes no entry item after its claim.

The stage names the entry it keeps (`"j"`: its id; a stage that puts its entry names it `"e"` instead). The entry
stands exactly when the stage does, once its order is claimed:
* the stage's undo takes the entry out of the journal again (`undone`), under the member's version condition;
* a read of the member's entries that finds the stage still held, by a writer of another process, reads its order
  and leaves the entry out while the order does not stand for its token (`visible`);
* the order is its day's listing: it names the day's redemption list (`board_pk`), and PageEarnings pages the spend
  from the order's insert (earning_pages.py), as it would have from the entry item's.

Only a redemption whose lots are all held in the member item keeps its entry: one with lot items to roll forward puts
its entry after them, as before, so that the entry still tells a reader that the lots are written.
"""

from __future__ import annotations

import json
from datetime import datetime

from pynamodb.connection import Connection

from qunyun.adapters import journal
from qunyun.adapters import points_keys as keys
from qunyun.adapters.held_lots import Held
from qunyun.adapters.points_fetch import fetch
from qunyun.adapters.points_tables import MallOrderItem, MemberItem
from qunyun.adapters.stages_done import is_finished
from qunyun.domain.ledger import MemberChange


def keep(change: MemberChange, split: Held, stage: tuple[str, dict], now: datetime) -> journal.Room | None:
    """The member's journal with the redemption's spend entry in it, the stage naming the entry (`"j"`); None, and
    the stage as it was, where the entry does not fit or lot items are left to roll forward."""
    if split.items:
        return None
    entry, staged = change.entries[-1], stage[1]
    staged["j"] = entry.entry_id
    kept = journal.room(change, split, stage, [journal.line_of(entry, now)])
    if kept is None:
        del staged["j"]
    return kept


def kept_sk(staged: dict | None) -> str | None:
    """The key of the entry a stage keeps in its member's journal; None for a stage that keeps none."""
    if not staged or not staged.get("j"):
        return None
    return keys.entry_sk(datetime.fromisoformat(staged["at"]), staged["j"])


def undone(item: MemberItem) -> list:
    """The update that takes a stage's kept entry out of its member's journal, with the rest of its undo."""
    lines = journal.read(item.journal)
    if not _last_is(lines, kept_sk(item.staged)):
        return []
    return [MemberItem.journal.set(journal.stored(lines[:-1])) if lines[:-1] else MemberItem.journal.remove()]


def _last_is(lines: list[dict], sk: str | None) -> bool:
    """Whether the last line is the entry keyed `sk`: the one a stage kept, which nothing can follow while the
    member holds the stage. (A stage planned from an order not yet read as placed may keep a line of the same key
    as the order's own kept one; its undo takes out its own, the last.)"""
    return sk is not None and bool(lines) and journal.line_sk(lines[-1]) == sk


def visible(connection: Connection, pk: str, raw: dict, consistent: bool = True) -> list[dict]:
    """The journal of a member item read raw (with its `stage` and `staged`), less the entry of a stage whose order
    does not stand for its token (yet, or ever: its writer is between stage and claim, or died)."""
    lines = journal.read(raw.get("journal", {}).get("B"))
    token = raw.get("stage", {}).get("S")
    staged = json.loads(raw["staged"]["S"]) if "staged" in raw else None
    pending = kept_sk(staged)
    if pending is None or is_finished(token):
        return lines
    key = keys.record_key("redemption", keys.split_member_pk(pk)[0], staged["ev"])
    found = fetch(connection, [key], consistent)[key]
    order = MallOrderItem.from_raw_data(found) if found else None
    if order is not None and not order.void and order.token == token:
        return lines
    return lines[:-1] if _last_is(lines, pending) else lines
