"""A scheduled run's entries and orders written after its transaction, not in it (docs/ledger.md, "A run's
entries and orders written after its transaction").

A settlement's or an expiry's transaction bills every item twice, yet its entry needs no condition of its own, and
a settlement's order none but the lot it holds being as planned. So each member the run's transaction changes keeps
a *standing* stage (`"k": "t"`, `"r"`): the change's entries as plain fields, the last of which says whether the
rest is written, and a settlement's update of the order that held its pending lot, where that order, read again
after the plan, is still as planned (points_writer `read_after_plan`). The transaction is the stage's claim: once
it commits, the change stands, and it is never undone. The writer then updates the orders, each only while its lot
is as read, and puts the entries, 25 to a BatchWriteItem: a unit each. A writer that dies first leaves them to the
member's next reader, which writes them as it settles any stage (points_stage.settle), before it reads the balance
or plans from it. The stage fixes each write, so a reader's repeats the writer's.

A member keeps a standing stage only where its item stays under 1 KB with it (`MARGIN` to spare), since AWS bills
an update by the larger of the item before and after; elsewhere its writes go into the transaction as before.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.connection import Connection

from qunyun.adapters import held_lots
from qunyun.adapters import points_keys as keys
from qunyun.adapters.conditional_write import written
from qunyun.adapters.points_stage_rest import entry_fields
from qunyun.adapters.points_tables import TABLE
from qunyun.adapters.stages_done import finished
from qunyun.domain.ledger import MemberChange

MARGIN = 60  # bytes the estimate may miss by (attribute names of balance parts the change adds, number encodings)
_BATCH = 25  # DynamoDB's limit on the puts of one BatchWriteItem


@dataclass
class Standing:
    """The entries a transaction left to write, as items, and its members' stages (a token each: a reader that
    settles one member's stage finishes only that one)."""

    tokens: list[str] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)  # UpdateItems of the orders whose lots were settled
    items: list[dict] = field(default_factory=list)

    def token(self) -> str:
        self.tokens.append(uuid.uuid4().hex[:16])
        return self.tokens[-1]


def stage_of(change: MemberChange, lots: dict[str, int], now: datetime, orders: list | None = None,
             window: int | None = None) -> dict | None:
    """The standing stage that carries the change's order updates (points_writer `order_rest`) and entries (and, for
    a piece written alone, the run's window its entries name), or None when the member item would not stay under
    1 KB with it (or there is no entry)."""
    if not change.entries:
        return None
    rest = {"orders": orders, "entries": [entry_fields(e) for e in change.entries], "w": window}
    staged = {"k": "t", "at": now.astimezone(UTC).isoformat(), "r": {k: v for k, v in rest.items() if v}}
    size = held_lots.stored_size(change, lots) + len(json.dumps(staged, separators=(",", ":"))) + 16 + 24
    return staged if size <= 1024 - MARGIN else None


def standing_proof(pk: str, staged: dict) -> list[tuple[str, str]]:
    """What tells whether a standing stage's writes are done: its last entry, written last; or, for a run's piece whose
    entries its member item keeps (journal.py), the orders it updates."""
    rest = staged["r"]
    if rest.get("entries"):
        return [(pk, keys.entry_sk(datetime.fromisoformat(staged["at"]), rest["entries"][-1]["entry_id"]))]
    return [keys.record_key("purchase", keys.split_member_pk(pk)[0], order[0]) for order in rest["orders"]]


def standing_missing(staged: dict, found: list[dict | None]) -> bool:
    """Whether what a standing stage leaves is still to write, from its proof as read (`standing_proof`): its last
    entry absent, or an order still as the stage read it (its update not made: made, the lot has moved on)."""
    rest = staged["r"]
    if rest.get("entries"):
        return found[0] is None
    return any(still(raw, (order[1], order[2])) for order, raw in zip(rest["orders"], found, strict=True))


def still(raw: dict | None, expect: tuple[str, int]) -> bool:
    """Whether an order read raw still holds its lot as `expect` (state, remaining) says."""
    return raw is not None and (raw.get("state", {}).get("S"), int(raw.get("remaining", {}).get("N", 0))) == expect


def write(connection: Connection, standing: Standing) -> None:
    """Writes what a committed transaction left, its orders before its entries (an entry written says the rest is),
    then lets the process know its stages need no reading."""
    for update in standing.updates:
        written(connection.client.update_item, **update)  # False: written already
    pending = [{"PutRequest": {"Item": item}} for item in standing.items]
    for start in range(0, len(pending), _BATCH):
        requests, delay = pending[start:start + _BATCH], 0.01
        while requests:
            out = connection.client.batch_write_item(RequestItems={TABLE: requests})
            requests = out.get("UnprocessedItems", {}).get(TABLE, [])
            if requests:  # throttled: back off and send the rest
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
    for token in standing.tokens:
        finished(token)
