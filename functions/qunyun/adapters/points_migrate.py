"""`qunyun points migrate`: moves a tenant's members to the layout where check-in marks, day caps and reward
limits live in the member item (points_keys.held_stored), so that a change writes no item of its own for them.

Per member, one transaction folds its guard items into the member item (a value already there is newer and
wins; marks too old to matter are dropped), sets `layout` 2 and deletes the guard items it folded, conditioned
on the member's version. Until then the reads fall back to the guard items, so the old layout stays correct
while a tenant waits. A second run finds nothing to move: members at layout 2 are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import GuardItem, MemberItem

_MAX_ITEMS = 100  # a transaction's items: the member and up to 99 guard items a round


@dataclass
class Moved:
    members: int = 0  # members moved to the new layout
    guards: int = 0  # guard items folded into their member and deleted
    dropped: int = 0  # of those, marks too old to matter
    skipped: int = 0  # members already at the new layout


def _old_guards(pk: str) -> list[GuardItem]:
    query = GuardItem.query(pk, GuardItem.sk.startswith("G#"), consistent_read=True)
    return [i for i in query if keys.held(keys.guard_of(i.sk))]


def _round(member: MemberItem, guards: list[GuardItem], moved: Moved, now: datetime, last: bool,
           ledger: PointsLedger) -> None:
    """One transaction: these guards into the member (the last round also sets the layout), then deleted."""
    held, dropped = keys.held_read(member.held), 0
    for item in guards:
        guard = keys.guard_of(item.sk)
        if keys.held_fresh(guard, now):
            held.setdefault(guard, int(item.granted or 0))
        else:
            dropped += 1
    actions = [MemberItem.version.set(int(member.version) + 1), MemberItem.held.set(keys.held_stored(held))]
    if last:
        actions.append(MemberItem.layout.set(2))
    with TransactWrite(connection=ledger._connection) as tx:
        tx.update(MemberItem(member.pk, member.sk), actions=actions, condition=MemberItem.version == member.version)
        for item in guards:
            tx.delete(GuardItem(item.pk, item.sk))
    moved.guards, moved.dropped = moved.guards + len(guards), moved.dropped + dropped  # counted once committed


def migrate_member(tenant_id: str, member_id: str, now: datetime, moved: Moved, ledger: PointsLedger) -> None:
    pk, sk = keys.member_key(tenant_id, member_id)
    for _ in range(25):  # a member changing meanwhile moves its version: read again and retry
        try:
            member = MemberItem.get(pk, sk, consistent_read=True)
        except MemberItem.DoesNotExist:
            return
        if member.layout:
            moved.skipped += 1
            return
        guards = _old_guards(pk)
        try:
            while True:
                batch, guards = guards[:_MAX_ITEMS - 1], guards[_MAX_ITEMS - 1:]
                _round(member, batch, moved, now, not guards, ledger)
                if not guards:
                    break
                member = MemberItem.get(pk, sk, consistent_read=True)
            moved.members += 1
            return
        except TransactWriteError as err:
            if err.cause_response_code not in ("TransactionCanceledException", "TransactionConflictException"):
                raise
    raise RuntimeError(f"member {member_id!r} kept changing; run the migration again")


def migrate_tenant(tenant_id: str, now: datetime, ledger: PointsLedger | None = None) -> Moved:
    """Moves every member of the tenant to the new layout; safe to run again, and alongside live traffic."""
    ledger, moved = ledger or PointsLedger(), Moved()
    for member_id in list(ledger.members(tenant_id)):
        migrate_member(tenant_id, member_id, now, moved, ledger)
    return moved
