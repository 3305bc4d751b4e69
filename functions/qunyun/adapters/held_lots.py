"""Available lots held in the member item (`MemberItem.lots`, {expiry: remaining}), not in lot items of their own.

A check-in or a quiz answer credits the lot of its expiry. Written as single writes (points_stage.py), that lot was
a fourth write of every check-in. Held in the member item, it is written with the member, under the member's version
condition, and undone with the member's stage.

* A change makes a held lot when no item of that expiry exists and the member item keeps room for it (`ROOM`: under
  1 KB with the largest stage it may carry), one new held lot a write. A staged change reads the lot's item after its
  stage anyway. A transaction (a settlement, a grant) reads the items of the lots it would make held after its
  plan's reads (points_writer `read_after_plan`): its member was read settled at the version the transaction is
  conditioned on, so every lot item a change up to that version made was written by then, and a later change moves
  the version and refuses the transaction. So a lot is held or an item, never both.
* The write that makes a held lot gives the member item `due_new`, the lot's expiry: PageEarnings lists the member's
  record as its lot `L#{due_new}`, as it lists a lot item; every other write of the member removes it.
* An expired lot is dropped; a lot spent to nothing stays at 0 until past its expiry (a cancellation restores into
  it), and the member's next write after drops it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from qunyun.adapters import points_keys as keys
from qunyun.domain.ledger import LotId, LotState, LotWrite, MemberChange
from qunyun.domain.points import NEVER

# The member item's bytes without a stage, its lots included, that a new held lot may fill: 1 KB less the largest
# stage (a check-in's, about 300 bytes) and room for a nickname's growth or a limited reward.
ROOM = 1024 - 330 - 60
_BASE = 190  # keys, balance parts, version, status, created_at and their names, as stored
_UTC_MINUTE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):00\+00:00$")
_COMPACT = re.compile(r"^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)$")


def _compact(name: str) -> str:
    """An expiry as the member item keeps it: "2027-02-05T16:00:00+00:00" as "20270205T1600" (19 bytes a lot
    stored, against 31); any other form as it is."""
    m = _UTC_MINUTE.match(name)
    return "{}{}{}T{}{}".format(*m.groups()) if m else name


def _expand(stored: str) -> str:
    m = _COMPACT.match(stored)
    return "{}-{}-{}T{}:{}:00+00:00".format(*m.groups()) if m else stored


@dataclass
class Held:
    """A change's lots split between the member item (`after`, None when they stay as they are) and lot items."""

    after: dict[str, int] | None = None
    items: list[LotWrite] = field(default_factory=list)
    prior: dict[str, int | None] = field(default_factory=dict)  # what the member held of each lot it moved
    due: str | None = None  # the expiry of the lot this write made held: the member's `due_new`


def lots_read(stored: dict | None) -> dict[LotId, int]:
    return {LotId.expiring(_expand(name)): int(n) for name, n in (stored or {}).items()}


def lots_stored(lots: dict[str, int]) -> dict[str, int]:
    """Held lots by expiry, as the member item stores them."""
    return {_compact(name): n for name, n in lots.items()}


def state_of(lot: LotId, remaining: int) -> LotState:
    """A held lot as the domain reads a lot: available (an expired one is dropped), named by its expiry."""
    return LotState(id=lot, state="available", remaining=remaining, expires_at=lot.name)


def _parts(change: MemberChange, lots: dict[str, int]) -> tuple[list[int], int]:
    """The member item's bytes without a stage after the change: each day's marks and caps, and the rest."""
    held = keys.held_stored(change.member.held)
    days = [len(json.dumps(marks, separators=(",", ":"))) + 14 for marks in held.get("days", {}).values()]
    return days, (_BASE + len(json.dumps(held.get("limits", {}), separators=(",", ":")))
                  + _bytes(change.member.nickname) + len(json.dumps(lots_stored(lots), separators=(",", ":"))))


def _size(change: MemberChange, lots: dict[str, int]) -> int:
    """The member item's bytes without a stage, as they will be once its marks and caps fill their HELD_DAYS: a day
    held now stands for each day to come, so that lots held early still fit when the marks have grown."""
    days, rest = _parts(change, lots)
    return rest + (keys.HELD_DAYS + 1) * max(days, default=40)


def held_after(change: MemberChange, split: Held) -> dict[str, int]:
    """The lots the member item holds after the change, by expiry."""
    return split.after if split.after is not None else {lot.name: n for lot, n in change.member.held_lots.items()}


def stored_size(change: MemberChange, lots: dict[str, int]) -> int:
    """The member item's bytes without a stage after the change, as its marks and caps are now (not as they may grow:
    for what a single write adds and the next write of the member takes away, such as a standing stage), and without
    the entries it keeps (journal.py), which a write moves out when they do not fit beside what it writes."""
    days, rest = _parts(change, lots)
    return rest + sum(days)


def _bytes(text: str | None) -> int:
    """A string's size as DynamoDB counts it: its UTF-8 bytes (a Chinese nickname is 3 a character)."""
    return len((text or "").encode())


def split(change: MemberChange, lots: list[LotWrite], now: datetime, holdable: frozenset = frozenset(), *,
          staged: bool) -> Held:
    """Which of the change's (merged) lots the member item holds after it, and which are items. `holdable`: the lots
    no item of which exists (read after the member), which it may make held; one a write, since the member's
    `due_new` names one.

    A credit into a held lot may come after its due line was read and let go: a settlement's, whose expiry counts
    from a settle time long past, or a cancellation's restore planned at a clock before the expiry and committed
    after the run found the lot spent. So a transaction's credit lists the lot again (`due`), as a lot item's credit
    does, and a staged change's (made at its own clock, into a lot months from due) when it is already due. Where
    the member's `due_new` names another lot already, the lot moves into an item of its own, which is listed."""
    held = {lot.name: n for lot, n in change.member.held_lots.items()}
    out, moved = Held(), False
    for lot in lots:
        name = lot.lot.name
        if lot.lot.pending or (name not in held and lot.lot not in holdable):
            out.items.append(lot)
            continue
        if name not in held:
            grown = {**held, name: lot.add}
            if lot.add <= 0 or out.due is not None or _size(change, grown) > ROOM:
                out.items.append(lot)
                continue
            out.due = lot.due
        elif lot.add > 0 and lot.due and (not staged or _past(lot.due, now)):
            # listed again; only a transaction may find `due_new` naming another lot (a stage credits one lot): the
            # lot then moves into an item of its own, listed as an item's credit is
            if not staged and out.due is not None:
                out.items.append(LotWrite(lot.lot, add=held.pop(name) + lot.add, set=dict(lot.set), due=lot.due))
                moved = True
                continue
            out.due = lot.due
        out.prior.setdefault(name, held.get(name))
        held[name] = held.get(name, 0) + lot.add
        if lot.set.get("state") == "expired":
            del held[name]
        moved = True
    if moved:
        out.after = {name: n for name, n in held.items() if n > 0 or not _past(name, now)}
    return out


def _past(name: str, now: datetime) -> bool:
    return name != NEVER and datetime.fromisoformat(name) <= now


def undone(stored: dict | None, prior: dict[str, int | None]) -> dict[str, int]:
    """The member item's held lots (as stored) with those a stage moved put back as they were (None: not held)."""
    lots = {lot.name: n for lot, n in lots_read(stored).items()}
    for name, n in prior.items():
        if n is None:
            lots.pop(name, None)
        else:
            lots[name] = n
    return lots_stored(lots)
