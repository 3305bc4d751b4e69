"""A scheduled run's piece of one member written without a transaction (docs/ledger.md, "A run's pieces of one
member as single writes").

A settlement or an expiry that changes one member, whose lots are held in its item (or in the order it settles),
needs nothing from a transaction but the run's counters: its member's update under its version condition decides
whether it stands, as the transaction did, and its standing stage leaves its order's update and its entry
(standing.py). So it is that one UpdateItem, a unit instead of two. Its counts are added to the run's item a window
at a time (services/job_batch.py `Tally`); its entry names the window, and its key is fixed by the run's time and
the entry's id, so a run started again finds what an earlier start wrote and never counted.

A piece whose member would pass 1 KB with the stage, that writes a lot item, a guard or an order found moved since
its plan, is not written here: it goes into a transaction with its counts, as before. The pieces of a batch are read
again after their plans in one round trip, and what their stages leave is written together, as a transaction's is.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pynamodb.connection import Connection

from qunyun.adapters import journal
from qunyun.adapters import points_keys as keys
from qunyun.adapters.member_write import write_member
from qunyun.adapters.points_writer import leave, read_after_plan, standing_split
from qunyun.adapters.standing import Standing
from qunyun.domain.ledger import Plan
from qunyun.domain.plan_batch import together


def write_alone(connection: Connection, plans: list[Plan], now: datetime, window: int) -> tuple[list[str], Standing]:
    """Writes the members of one tenant's one-member job plans (domain/plan_batch.py `lone`), each as a single write
    carrying its standing stage, after one read of what they may write otherwise. Returns each plan's outcome,
    "written", "transaction" (it needs one: nothing written) or "lost" (its member moved since the plan: plan it
    again), and what the written ones' stages leave to write."""
    holdable, as_planned = read_after_plan(connection, together(plans))
    outcomes, left = [], Standing()
    for plan in plans:
        staged = _member_alone(connection, plan, now, window, holdable, as_planned, left)
        outcomes.append("transaction" if staged is None else "written" if staged else "lost")
    return outcomes, left


def _member_alone(connection: Connection, plan: Plan, now: datetime, window: int, holdable: dict[str, frozenset],
                  as_planned: frozenset[str], left: Standing) -> bool | None:
    """The plan's member written alone (True), refused by its version (False), or not to be written so (None)."""
    [change] = plan.changes
    split, staged = standing_split(change, now, holdable, as_planned, window)
    if any(not (keys.in_order(lot.lot) and lot.lot.name in as_planned) for lot in split.items):
        return None  # a lot item to write, or an order moved since the plan: under a condition of its own
    if any(not keys.held(g) for g in change.guards) or (change.cap and not keys.held(change.cap[0])):
        return None
    if staged is None:
        return None
    token = uuid.uuid4().hex[:16]
    # its entries kept in the member item (journal.py); its standing stage then carries only its order's update
    rest = {k: v for k, v in staged["r"].items() if k != "entries"}
    stage = (token, {**staged, "r": rest}) if rest.get("orders") else None
    kept = None
    if not any(e.program_day for e in change.entries):  # a listed entry is paged from its item's insert
        kept = journal.room(change, split, stage, [journal.line_of(e, now, window) for e in change.entries])
    if kept is None:  # no room for them: they stay in the stage, put after it
        stage = (token, staged)
        kept = journal.room(change, split, stage)
    if not write_member(connection, change, now, split, stage, kept):
        return False
    if stage is not None:
        left.tokens.append(token)  # finished once what the stage leaves is written
        leave(left, keys.member_pk(change.member.tenant_id, change.member.member_id), stage[1])
    return True
