"""Reads of the points table, and the per-thread snapshot a change plans from.

A change reads its member, guards and counters before it writes; `prefetch` fetches them in one
BatchGetItem. Correctness never rests on these reads: the writes' conditions (member version, lots
as read, guards that must not exist) reject a plan made from stale ones. So a plan's first read may be
eventually consistent (`consistent=False`, half the read units): a write it plans is refused if what it read
moved, and the services plan again from a consistent read before they answer anything a plan decided without
writing (a refusal). A stage found by such a read is settled by conditional writes only, so a stale read costs a
refused write, never a wrong one. Every read after the first is consistent (docs/ledger.md, "A plan's first read
eventually consistent").
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from pynamodb.connection import Connection

from qunyun.adapters import held_lots, journal, kept_spend
from qunyun.adapters import points_keys as keys
from qunyun.adapters.earning_pages import EarningPages, Listed
from qunyun.adapters.journal import JournalReads
from qunyun.adapters.member_pages import MemberPages
from qunyun.adapters.order_lots import lot_of_order, move_into_order, old_lot_key
from qunyun.adapters.points_fetch import fetch
from qunyun.adapters.points_keys import Key
from qunyun.adapters.points_stage import STALE, settle, settle_order, settled_by
from qunyun.adapters.points_tables import (
    EntryItem,
    EventItem,
    GuardItem,
    LotItem,
    MemberItem,
    OrderItem,
    _PointsMeta,
)
from qunyun.adapters.tables import share_session
from qunyun.domain.errors import InvalidRequest, QunyunError
from qunyun.domain.ledger import Entry, EventRecord, Guard, Invite, LotId, LotState, MemberState, Purchase, Read
from qunyun.domain.points import BALANCE_PARTS

_ENTRY_FIELDS = ("entry_id", "kind", "source_type", "source_id", "actor", "reason", "group_id", "program_day",
                 "occurred_at", "created_at")
_PURCHASE_FIELDS = ("member_id", "group_id", "event_id")
SETTLE_FOR = STALE.total_seconds() + 10  # a stage is voided after STALE; longer than this, something is wrong


def _lot_state(item: LotItem) -> LotState:
    return LotState(id=keys.lot_of(item.sk), state=item.state, remaining=int(item.remaining or 0),
                    expires_at=item.expires_at, settle_at=item.settle_at, source_type=item.source_type,
                    source_id=item.source_id, group_id=item.group_id, invitee_id=item.invitee_id)


def entry_of(item: EntryItem) -> Entry:
    deltas = item.deltas.as_dict() if item.deltas else {}
    return Entry(points=int(item.points), deltas={k: int(v) for k, v in deltas.items()},
                 earned=int(item.earned or 0), lots=keys.lots_read(item.lots.as_dict() if item.lots else {}),
                 **{f: getattr(item, f) for f in _ENTRY_FIELDS})


class LedgerReads:
    """Reads in domain terms, from the prefetched snapshot where it holds the item."""

    def __init__(self) -> None:
        self._connection = share_session(Connection(region=_PointsMeta.region, host=_PointsMeta.host,
                                                    max_retry_attempts=_PointsMeta.max_retry_attempts))
        self._local = threading.local()  # the prefetched snapshot of the current thread's attempt

    # ---- one round trip for everything a change needs to read ------------------------------------
    def _read(self, wanted: list[Key], consistent: bool = True) -> dict[Key, dict | None]:
        """These items (None for those that do not exist), 100 to a BatchGetItem."""
        return fetch(self._connection, wanted, consistent)

    def prefetch(self, reads: list[Read], settle: bool = True, consistent: bool = True) -> None:
        """Reads these items in one BatchGetItem (eventually consistent without `consistent`); the reads below use
        them until `forget`. Without `settle`, a member's unsettled stage is left as it is: for reads that plan
        nothing (a nickname) and functions that may not write."""
        wanted = [keys.stored_key(r) for r in reads]
        if settle:
            self.prefetch_keys(wanted, consistent)
        else:
            self._local.consistent = consistent
            self._local.snapshot = self._read(list(dict.fromkeys(wanted)), consistent)

    def prefetch_keys(self, wanted: list[Key], consistent: bool = True) -> None:
        """Keys read ahead (`ahead`) and not yet used are taken from there instead."""
        wanted = list(dict.fromkeys(wanted))
        ahead = getattr(self._local, "ahead", None) or {}
        taken = {key: ahead.pop(key) for key in wanted if key in ahead}
        missing = [key for key in wanted if key not in taken]
        self._local.consistent = consistent and (not taken or getattr(self._local, "ahead_consistent", True))
        self._local.snapshot = self._settled({**taken, **(self._read(missing, consistent) if missing else {})},
                                             consistent)

    def consistent(self) -> bool:
        """Whether the snapshot was read consistently throughout: what a change finds nothing to do from must be."""
        return getattr(self._local, "consistent", True)

    def _settled(self, snapshot: dict[Key, dict | None], consistent: bool = True) -> dict[Key, dict | None]:
        """The snapshot with every member's stage and every staged order settled (points_stage), and read again
        (consistently) when that wrote or waited. What settles them is read for all of them in one round trip, as
        consistently as the snapshot was the first time, or taken from what `ahead` read (once: a second pass
        reads it again)."""
        deadline = time.monotonic() + SETTLE_FOR
        ahead = getattr(self._local, "ahead_settling", None) or {}
        while True:
            staged = _staged_in(snapshot)
            wanted = [k for item in staged for k in settled_by(item)]
            found = {key: ahead.pop(key) for key in wanted if key in ahead}
            found.update(fetch(self._connection, [key for key in wanted if key not in found], consistent))
            if not [item for item in staged if _STAGED[type(item)](self._connection, item, found=found)]:
                return snapshot
            _in_time(deadline)
            snapshot, self._local.consistent = self._read(list(snapshot)), True
            consistent = True

    @contextmanager
    def ahead(self, reads: list[Read], consistent: bool = True) -> Iterator[None]:
        """Reads the items many small changes will need, 100 to a BatchGetItem, for their `prefetch` to take,
        and what settles the staged ones among them (both eventually consistent without `consistent`). Each item
        is taken once: a second change needing it (it may have been written since) and every retry read it again,
        consistently. Nothing read ahead outlives the block."""
        self._local.ahead_consistent = consistent
        self._local.ahead = self._read([keys.stored_key(r) for r in reads], consistent)
        self._local.ahead_settling = fetch(self._connection, [
            k for item in _staged_in(self._local.ahead) for k in settled_by(item)], consistent)
        try:
            yield
        finally:
            self._local.ahead = self._local.ahead_settling = None

    def forget(self) -> None:
        self._local.snapshot = None

    def _get(self, model, key: Key):
        snapshot = getattr(self._local, "snapshot", None)
        if snapshot is not None and key in snapshot:
            raw = snapshot[key]
            return model.from_raw_data(raw) if raw is not None else None
        try:
            item = model.get(*key, consistent_read=True)
        except model.DoesNotExist:
            return None
        deadline = time.monotonic() + SETTLE_FOR
        while _STAGED.get(model) and _STAGED[model](self._connection, item):
            _in_time(deadline)
            try:
                item = model.get(*key, consistent_read=True)
            except model.DoesNotExist:
                return None
        return item

    # ---- a member and what hangs under it ----------------------------------------------------------
    def member(self, tenant_id: str, member_id: str) -> MemberState:
        item = self._get(MemberItem, keys.member_key(tenant_id, member_id))
        if item is None:
            return MemberState(tenant_id, member_id)
        return MemberState(
            tenant_id, member_id, exists=True, version=int(item.version), status=item.status,
            nickname=item.nickname, balance={p: int(getattr(item, p) or 0) for p in BALANCE_PARTS},
            earned=int(item.earned or 0), streak_days=int(item.streak_days or 0),
            last_checkin=date.fromisoformat(item.last_checkin) if item.last_checkin else None,
            settled_purchase=bool(item.settled_purchase), held=keys.held_read(item.held), stage=item.stage,
            held_lots=held_lots.lots_read(item.lots), journal=journal.read(item.journal),
        )

    def lots(self, tenant_id: str, member_id: str, pending: bool = False) -> list[LotState]:
        """The member's lots named by expiry (available or expired), or its pending ones: its invites' lot items,
        and its purchases' lots, held in the orders its entries name (order_lots.py)."""
        pk = keys.member_pk(tenant_id, member_id)
        query = LotItem.query(pk, LotItem.sk.startswith(keys.lot_prefix(pending)), consistent_read=True)
        lots = [_lot_state(i) for i in query]
        if not pending:
            return [*self._held(tenant_id, member_id), *lots]
        named = EntryItem.query(pk, EntryItem.sk.startswith("E#"), EntryItem.source_type == "purchase",
                                consistent_read=True, attributes_to_get=["source_id"])
        orders = {i.source_id for i in named} - {lot.id.name for lot in lots if keys.in_order(lot.id)}
        found = fetch(self._connection, [keys.record_key("purchase", tenant_id, o) for o in sorted(orders)])
        in_orders = [lot_of_order(OrderItem.from_raw_data(raw)) for raw in found.values()
                     if raw is not None and raw.get("member_id", {}).get("S") == member_id]
        return lots + [lot for lot in in_orders if lot is not None]

    def _held(self, tenant_id: str, member_id: str) -> list[LotState]:
        """The available lots the member item holds (held_lots.py)."""
        return [held_lots.state_of(lot, n) for lot, n in self.member(tenant_id, member_id).held_lots.items()]

    def lot(self, tenant_id: str, member_id: str, lot: LotId) -> LotState | None:
        if not lot.pending and (held := [x for x in self._held(tenant_id, member_id) if x.id == lot]):
            return held[0]
        if not keys.in_order(lot):
            item = self._get(LotItem, keys.lot_key(tenant_id, member_id, lot))
            return _lot_state(item) if item is not None else None
        for _ in range(3):  # a move lost to another reader's: read the order again
            order = self._get(OrderItem, keys.lot_key(tenant_id, member_id, lot))
            if order is None or order.member_id != member_id:
                return None
            if order.state is not None:
                return lot_of_order(order)
            old = self._get(LotItem, old_lot_key(tenant_id, member_id, lot))
            if old is None:
                return None  # the order earned nothing
            if move_into_order(self._connection, tenant_id, old):
                return _lot_state(old)
            self.forget()
        raise QunyunError("A purchase's points were being moved meanwhile; retry.", code="contention", status=409)

    def guard(self, tenant_id: str, member_id: str, guard: Guard) -> int | None:
        """How many a counter guard has granted (0 for a mark); None when it does not exist."""
        if keys.held(guard):
            member = self._get(MemberItem, keys.member_key(tenant_id, member_id))
            held = keys.held_read(member.held) if member is not None else {}
            if guard in held or member is None or member.layout:
                return held.get(guard)
            # A member of the old layout: its guard items stand until `points migrate` moves them.
        item = self._get(GuardItem, (keys.member_pk(tenant_id, member_id), keys.guard_sk(guard)))
        return None if item is None else int(item.granted or 0)

    def members(self, tenant_id: str) -> Iterator[str]:
        """Every member of the tenant, in id order: those made before the member pages from the `members` index,
        and those since from the pages PageEarnings writes a batching window after them (member_pages.py), each
        read to check that it still exists."""
        indexed = {item.member_id for item in MemberItem.members.query(tenant_id)}
        paged = [m for m in MemberPages().listed(tenant_id) if m not in indexed]
        for start in range(0, len(paged), 100):
            found = fetch(self._connection, [keys.member_key(tenant_id, m) for m in paged[start:start + 100]])
            indexed.update(keys.split_member_pk(key[0])[1] for key, raw in found.items() if raw is not None)
        yield from sorted(indexed)

    # ---- records ------------------------------------------------------------------------------------
    def event(self, tenant_id: str, event_id: str) -> EventRecord | None:
        """The record of an event id; a void claim is none. A staged change is settled (rolled forward) before
        its record answers, so a replay never answers ahead of the ledger."""
        item = self._get(EventItem, keys.record_key("event", tenant_id, event_id))
        if item is None or item.void:
            return None
        if item.member:
            self._get(MemberItem, (item.member, keys.BALANCE_SK))
        return EventRecord(event_id, item.digest, item.response)

    def order(self, tenant_id: str, order_id: str) -> Purchase | None:
        item = self._get(OrderItem, keys.record_key("purchase", tenant_id, order_id))
        if item is None:
            return None
        return Purchase(order_id, amount_fen=int(item.amount_fen), points=int(item.points),
                        refunded_fen=int(item.refunded_fen or 0), reversed_points=int(item.reversed_points or 0),
                        refund_ids=list(item.refund_ids or []), version=int(item.version or 0),
                        **{f: getattr(item, f) for f in _PURCHASE_FIELDS})

    def invite(self, tenant_id: str, invitee_id: str) -> Invite | None:
        item = self._get(GuardItem, keys.record_key("invite", tenant_id, invitee_id))
        if item is None:
            return None
        return Invite(invitee_id, item.inviter_id, keys.lot_of(item.lot_sk) if item.lot_sk else None,
                      int(item.granted or 0), item.state)

    # ---- entries: entry items, and those the member's journal keeps (journal.py) -----------------------
    def entries_page(self, tenant_id: str, member_id: str, limit: int,
                     cursor: str | None) -> tuple[list[Entry], str | None]:
        """A page of entries, newest first, and the opaque cursor of the next page (None after the last): the key of
        the page's last entry, below which the next page begins."""
        pk = keys.member_pk(tenant_id, member_id)
        below = _decode_cursor(cursor, pk)["sk"]["S"] if cursor else None
        held = self._journal(pk)
        condition = EntryItem.sk.between("E#", below) if below else EntryItem.sk.startswith("E#")
        query = EntryItem.query(pk, condition, limit=limit + 2, scan_index_forward=False, page_size=limit + 2)
        items = ((i.sk, entry_of(i)) for i in query if i.sk != below)
        found = journal.merged(items, JournalReads().newest_below(pk, held, below, limit + 1), newest_first=True)
        page = found[:limit]
        cursor_key = {"pk": {"S": pk}, "sk": {"S": page[-1][0]}} if len(found) > limit else None
        return ([e for _, e in page],
                base64.urlsafe_b64encode(json.dumps(cursor_key).encode()).decode() if cursor_key else None)

    def all_entries(self, tenant_id: str, member_id: str) -> Iterator[Entry]:
        """Every entry of the member, oldest first: its member item's journal is read before the rest, so an entry
        moved out of it meanwhile is read where it went."""
        pk = keys.member_pk(tenant_id, member_id)
        held = self._journal(pk)
        query = EntryItem.query(pk, EntryItem.sk.startswith("E#"), consistent_read=True)
        found = journal.merged(((i.sk, entry_of(i)) for i in query), JournalReads().between(pk, held))
        yield from (e for _, e in found)

    def entries_by_key(self, wanted: list[Key]) -> list[EntryItem]:
        """Whole entries by (pk, sk), 100 to a BatchGetItem."""
        return list(EntryItem.batch_get(wanted)) if wanted else []

    def entries_between(self, tenant_id: str, member_id: str, start: datetime, end: datetime) -> Iterator[Entry]:
        """A member's entries written from `start` to `end` (their keys begin with the UTC time), oldest first."""
        pk = keys.member_pk(tenant_id, member_id)
        low, high = keys.entry_sk(start), keys.entry_sk(end) + "~"
        held = self._journal(pk, consistent=False)
        query = EntryItem.query(pk, EntryItem.sk.between(low, high))
        found = journal.merged(((i.sk, entry_of(i)) for i in query),
                               JournalReads(consistent=False).between(pk, held, low, high))
        yield from (e for _, e in found)

    def _journal(self, pk: str, consistent: bool = True) -> list[dict]:
        """The entries the member item keeps (journal.py), as lines: but a staged redemption's spend while its order
        does not stand (kept_spend.py)."""
        raw = self._connection.client.get_item(TableName=_PointsMeta.table_name,
                                               Key={"pk": {"S": pk}, "sk": {"S": keys.BALANCE_SK}},
                                               ConsistentRead=consistent, ProjectionExpression="journal, #s, staged",
                                               ExpressionAttributeNames={"#s": "stage"})
        return kept_spend.visible(self._connection, pk, raw.get("Item", {}), consistent)

    def board_entries(self, tenant_id: str, day: str) -> Iterator[Listed]:
        """The tenant's earning entries of a program day, from its pages (adapters/earning_pages.py)."""
        yield from EarningPages().entries(keys.board_day_pk(tenant_id, day))

    def earnings_on(self, tenant_id: str, day: str) -> Iterator[tuple[str, str | None, int]]:
        """(member, group, points) of every earning entry of the tenant's program-day."""
        for item in self.board_entries(tenant_id, day):
            yield keys.split_member_pk(item.pk)[1], item.group_id, int(item.points)


# the items a staged change leaves for readers to settle
_STAGED = {MemberItem: settle, OrderItem: settle_order, GuardItem: settle_order}


def _staged_in(snapshot: dict[Key, dict | None]) -> list[MemberItem | OrderItem | GuardItem]:
    return [item for key, raw in snapshot.items() if raw is not None
            for item in [_staged(key, raw)] if item is not None]


def _staged(key: Key, raw: dict) -> MemberItem | OrderItem | GuardItem | None:
    """A member, an order or a question's mark as read raw, when a staged change left it to settle."""
    if key[1] == keys.BALANCE_SK and "stage" in raw:
        return MemberItem.from_raw_data(raw)
    if key[1] == keys.RECORD_SK["purchase"] and "token" in raw and keys.is_order(key[0]):
        return OrderItem.from_raw_data(raw)
    if "token" in raw and key[1].startswith(keys.QUIZ_MARK):
        return GuardItem.from_raw_data(raw)
    return None


def _in_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise QunyunError("A change to this member did not finish in time; retry.", code="contention", status=409)


def _decode_cursor(cursor: str, pk: str) -> dict:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        assert key["pk"]["S"] == pk and key["sk"]["S"].startswith("E#")
        return key
    except (ValueError, KeyError, TypeError, AssertionError, binascii.Error):
        raise InvalidRequest("cursor is not one this API returned for this member.", field="cursor") from None
