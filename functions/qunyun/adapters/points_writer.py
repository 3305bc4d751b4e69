"""Commits a Plan as one TransactWriteItems (PynamoDB TransactWrite), or an event that changes nothing as its record
alone: the one write path of the ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from qunyun.adapters import held_lots, journal, order_lots, standing
from qunyun.adapters import points_keys as keys
from qunyun.adapters.conditional_write import expression_params
from qunyun.adapters.held_lots import Held
from qunyun.adapters.points_fetch import fetch
from qunyun.adapters.points_keys import Key
from qunyun.adapters.points_stage_rest import entry_of
from qunyun.adapters.points_tables import (
    TABLE,
    EntryItem,
    EventItem,
    GuardItem,
    JobItem,
    LotItem,
    MemberItem,
    OrderItem,
)
from qunyun.adapters.redemptions import write_redemption, write_stock
from qunyun.adapters.standing import Standing
from qunyun.domain.ledger import Contention, Entry, LotId, LotWrite, MemberChange, Plan, RecordWrite, invite_checks


def transact(connection: Connection, plan: Plan, now: datetime) -> Standing | None:
    """All of the plan or nothing; a lost race raises Contention. A run's plan returns the entries its members'
    standing stages left to write (standing.py)."""
    if record_only(plan):
        return _save_record(connection, plan, now)
    holdable, as_planned = read_after_plan(connection, plan)
    left = Standing() if plan.job else None
    committed(connection, lambda tx: _write(tx, plan, now, holdable, left, as_planned))
    return left


def read_after_plan(connection: Connection, plan: Plan) -> tuple[dict[str, frozenset], frozenset[str]]:
    """What a transaction's plan may write otherwise, read consistently after the plan's reads in one round trip:
    the lots its member item may hold (`unheld`) and the orders it may update after it (`as_planned`)."""
    lots, orders = _lots_to_hold(plan), _orders_settled(plan)
    found = fetch(connection, [*lots, *orders]) if lots or orders else {}
    return unheld(lots, found), as_planned(orders, found)


def _lots_to_hold(plan: Plan) -> dict[Key, LotId]:
    """The available lots the plan's changes credit that their members do not hold, by the key of their item."""
    wanted = {}
    for change in plan.changes:
        m = change.member
        pk = keys.member_pk(m.tenant_id, m.member_id)
        for lot in merge_lots(change.lots):
            if lot.add > 0 and not lot.lot.pending and lot.expect is None and lot.lot not in m.held_lots:
                wanted[(pk, keys.lot_sk(lot.lot))] = lot.lot
    return wanted


def unheld(wanted: dict[Key, LotId], found: dict[Key, dict | None]) -> dict[str, frozenset]:
    """By member pk, the lots of `wanted` no item exists of, which the transaction may make held (held_lots.py)."""
    out: dict[str, set] = {}
    for (pk, sk), lot in wanted.items():
        if found.get((pk, sk)) is None:
            out.setdefault(pk, set()).add(lot)
    return {pk: frozenset(lots) for pk, lots in out.items()}


def _orders_settled(plan: Plan) -> dict[Key, LotWrite]:
    """For a run's plan, the orders whose pending lots it settles, by key."""
    if not plan.job:
        return {}
    return {keys.record_key("purchase", plan.tenant_id, lot.lot.name): lot for change in plan.changes
            for lot in merge_lots(change.lots) if keys.in_order(lot.lot) and lot.expect is not None}


def as_planned(orders: dict[Key, LotWrite], found: dict[Key, dict | None]) -> frozenset[str]:
    """The orders still as the plan read them. Their members were read settled at the versions the transaction is
    conditioned on, and every other change of a purchase's order moves its member's version (a refund is a
    transaction with it), so such an order may be updated after the transaction (standing.py)."""
    return frozenset(lot.lot.name for key, lot in orders.items() if standing.still(found.get(key), lot.expect))


def committed(connection: Connection, write: Callable[[TransactWrite], None]) -> None:
    """One TransactWriteItems of what `write` adds; a cancelled or conflicting one raises Contention with DynamoDB's
    reasons (none for a conflict)."""
    try:
        with TransactWrite(connection=connection) as tx:
            write(tx)
    except TransactWriteError as err:
        if err.cause_response_code in ("TransactionCanceledException", "TransactionConflictException"):
            reasons = [getattr(r, "code", None) if r else None for r in (err.cancellation_reasons or [])]
            raise Contention(reasons) from err
        raise


def event_item(plan: Plan, now: datetime) -> EventItem:
    return EventItem(*keys.record_key("event", plan.tenant_id, plan.event.event_id), digest=plan.event.digest,
                     response=plan.event.response, created_at=now)


def record_only(plan: Plan) -> bool:
    """An event that changes nothing: a second check-in of the day, a question answered before, a refund or
    invite already recorded. Such an answer can never turn into another (the mark, question, refund id or
    invite it found stays), so its record alone is written, one conditional put and no transaction."""
    others = (plan.purchase, plan.invite, plan.redemption, plan.job, plan.absent_invites, plan.unchanged, plan.stock)
    # A member's first event makes it a member, whatever it earns: that is a write of the member item.
    return plan.event is not None and not any(others) and not any(
        not c.member.exists or any(c.deltas.values()) or c.set or c.entries or c.lots or c.guards or c.cap
        for c in plan.changes)


def _save_record(connection: Connection, plan: Plan, now: datetime) -> None:
    try:
        connection.client.put_item(TableName=TABLE, Item=event_item(plan, now).serialize(),
                                   ConditionExpression="attribute_not_exists(pk) OR #v = :t",
                                   ExpressionAttributeNames={"#v": "void"},
                                   ExpressionAttributeValues={":t": {"BOOL": True}})
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":  # a twin recorded it: replay
            raise Contention(["ConditionalCheckFailed"]) from err
        raise


def _write(tx: TransactWrite, plan: Plan, now: datetime, holdable: dict[str, frozenset], left: Standing | None,
           as_planned: frozenset[str] = frozenset()) -> None:
    tenant_id = plan.tenant_id
    if plan.event:
        tx.save(event_item(plan, now), condition=EventItem.pk.does_not_exist() | (EventItem.void == True))  # noqa: E712
    in_orders = {lot.lot.name: lot for c in plan.changes for lot in merge_lots(c.lots) if keys.in_order(lot.lot)}
    for change in plan.changes:
        for order_id in _write_member(tx, change, now, holdable, left, as_planned):
            del in_orders[order_id]  # updated after the transaction, from its member's standing stage
    if plan.purchase:
        _write_purchase(tx, tenant_id, plan.purchase, in_orders.pop(plan.purchase.key, None))
    for order_id, lot in in_orders.items():  # a settlement's: its order is written for its lot alone
        tx.update(OrderItem(*keys.record_key("purchase", tenant_id, order_id)),
                  actions=_lot_actions(lot, OrderItem, order_lots.KEPT), condition=_as_read(lot, OrderItem))
    if plan.invite:
        _write_invite(tx, tenant_id, plan.invite)
    for invitee_id in invite_checks(plan):
        tx.condition_check(GuardItem, *keys.record_key("invite", tenant_id, invitee_id),
                           condition=GuardItem.pk.does_not_exist())
    for m in plan.unchanged:
        key = keys.member_key(m.tenant_id, m.member_id)
        if m.exists:
            tx.update(MemberItem(*key), actions=[MemberItem.version.set(m.version + 1)],
                      condition=MemberItem.version == m.version)
        else:
            tx.condition_check(MemberItem, *key, condition=MemberItem.pk.does_not_exist())
    write_stock(tx, tenant_id, plan.stock)
    if plan.redemption:
        write_redemption(tx, tenant_id, plan.redemption, settled=bool(plan.changes))
    if plan.job:
        run, counters = plan.job
        tx.update(JobItem(*keys.run_key(run)), actions=[getattr(JobItem, k).add(v) for k, v in counters.items()])


def member_update(change: MemberChange, now: datetime, *, lots: Held, stage: tuple[str, dict] | None = None,
                  kept: journal.Room | None = None) -> tuple[list, Any]:
    """The update of the member item a change makes, and its condition (its version, or its absence). It ends any
    stage the member held (a change is only planned from a member whose stage was settled), or sets its own. `lots`:
    the change's lots split by held_lots.split, whose held ones it writes; `kept`: the entries the member item keeps
    after it (journal.room), once those it moves out are written."""
    m = change.member
    actions = [MemberItem.version.set(m.version + 1)]
    if kept is not None and kept.changed:
        actions.append(MemberItem.journal.set(journal.stored(kept.kept)) if kept.kept else MemberItem.journal.remove())
    if lots.after is not None:
        stored = held_lots.lots_stored(lots.after)
        actions.append(MemberItem.lots.set(stored) if stored else MemberItem.lots.remove())
    # the expiry of a lot this write made held, for the due pages; removed by every other write
    actions.append(MemberItem.due_new.set(lots.due) if lots.due else MemberItem.due_new.remove())
    if stage:
        actions += [MemberItem.stage.set(stage[0]), MemberItem.staged.set(stage[1])]
    elif m.stage:
        actions += [MemberItem.stage.remove(), MemberItem.staged.remove()]
    if not m.exists:
        # No tenant_id or member_id: the sparse `members` index lists the members made before the member pages,
        # which PageEarnings writes from this insert (member_pages.py), a batching window later and out of the request.
        actions += [MemberItem.created_at.set(now), MemberItem.status.set("active")]
    for part, amount in change.deltas.items():
        if amount:
            actions.append(getattr(MemberItem, part).add(amount))
    for name, value in change.set.items():
        attr = getattr(MemberItem, name)
        actions.append(attr.remove() if value is None else attr.set(value))
    held = _held_after(change, now)
    if held is not None:
        actions.append(MemberItem.held.set(keys.held_stored(held)))
    if not m.exists:
        actions.append(MemberItem.layout.set(2))
    condition = (MemberItem.version == m.version) if m.exists else MemberItem.pk.does_not_exist()
    return actions, condition


def _write_member(tx: TransactWrite, change: MemberChange, now: datetime, holdable: dict[str, frozenset],
                  left: Standing | None, as_planned: frozenset[str]) -> list[str]:
    """Adds the member's writes to the transaction; returns the orders whose lots its standing stage updates
    after it."""
    m = change.member
    pk, sk = keys.member_key(m.tenant_id, m.member_id)
    split, staged = standing_split(change, now, holdable, as_planned, stage=left is not None)
    stage = (left.token(), staged) if staged else None
    kept = journal.room(change, split, stage)
    if kept.moving:  # what the member item keeps does not fit beside this write: moved out with it
        tx.save(journal.moved_out(pk, kept.moving))
    actions, condition = member_update(change, now, lots=split, stage=stage, kept=kept)
    tx.update(MemberItem(pk, sk), actions=actions, condition=condition)
    for guard in change.guards:
        if not keys.held(guard):
            tx.save(GuardItem(pk, keys.guard_sk(guard)), condition=GuardItem.pk.does_not_exist())
    if change.cap and not keys.held(change.cap[0]):
        guard, seen, after = change.cap
        cond = GuardItem.granted == seen
        if seen == 0:  # never counted, or counted back down to zero by a cancellation
            cond = cond | GuardItem.pk.does_not_exist()
        tx.update(GuardItem(pk, keys.guard_sk(guard)), actions=[GuardItem.granted.set(after)], condition=cond)
    for lot in split.items:
        if keys.in_order(lot.lot):
            continue  # written with its order (_write)
        tx.update(LotItem(pk, keys.lot_sk(lot.lot)), actions=_lot_actions(lot), condition=_as_read(lot))
    if staged:  # written after the transaction, as a reader rolling the stage forward would write them
        return leave(left, pk, staged)
    for entry in change.entries:
        tx.save(entry_item(pk, m.tenant_id, entry, now), condition=EntryItem.pk.does_not_exist())
    return []


def standing_split(change: MemberChange, now: datetime, holdable: dict[str, frozenset], as_planned: frozenset[str],
                   window: int | None = None, *, stage: bool = True) -> tuple[Held, dict | None]:
    """A change of a member: its lots split between the member item and lot items, and (for a run's, `stage`) the
    standing stage that carries its entries and the updates of its orders still as planned (None: none, or the item
    would pass 1 KB with it)."""
    m = change.member
    merged = list(merge_lots(change.lots))
    split = held_lots.split(change, merged, now, holdable.get(keys.member_pk(m.tenant_id, m.member_id), frozenset()),
                            staged=False)
    if not stage:
        return split, None
    orders = [order_rest(lot) for lot in merged if keys.in_order(lot.lot) and lot.lot.name in as_planned]
    return split, standing.stage_of(change, held_lots.held_after(change, split), now, orders, window)


def leave(left: Standing, pk: str, staged: dict) -> list[str]:
    """Adds what the member's standing stage leaves to write after its commit; returns the orders it updates."""
    updates, items = rest_writes(pk, staged["r"], datetime.fromisoformat(staged["at"]))
    left.updates, left.items = left.updates + updates, left.items + items
    return [order[0] for order in staged["r"].get("orders", [])]


def order_rest(lot: LotWrite) -> list:
    """A settlement's update of the order that holds its pending lot, as a standing stage keeps it: the order, the
    lot as read, what it adds, the fields it sets that the order keeps, and whether it clears the due time."""
    kept = {k: v for k, v in lot.set.items() if k in order_lots.KEPT}
    return [lot.lot.name, *lot.expect, lot.add, kept, int(lot.clear_due)]


def order_update(tenant_id: str, rest: list) -> dict:
    """The UpdateItem of `order_rest`: applied once, only while the lot is as read. It moves the order's version as a
    refund's update does: a change planned from the order before it is refused (by the version, or by its lot's
    condition) and planned again."""
    order_id, state, remaining, add, kept, clear_due = rest
    lot = LotWrite(LotId("purchase", order_id), add=add, set=kept, clear_due=bool(clear_due),
                   expect=(state, remaining))
    key = keys.record_key("purchase", tenant_id, order_id)
    return {"TableName": TABLE, "Key": {"pk": {"S": key[0]}, "sk": {"S": key[1]}},
            **expression_params(_as_read(lot, OrderItem),
                                [*_lot_actions(lot, OrderItem, order_lots.KEPT), OrderItem.version.add(1)])}


def rest_writes(pk: str, rest: dict, at: datetime) -> tuple[list[dict], list[dict]]:
    """What a stage's rest (made at `at`) leaves to write besides its lots: the UpdateItems of its orders, and its
    entries as items; built here for the writer of a standing stage and for a reader rolling any stage forward."""
    tenant_id = keys.split_member_pk(pk)[0]
    entries = [entry_item(pk, tenant_id, entry_of(fields), at) for fields in rest.get("entries", [])]
    for item in entries:
        item.window = rest.get("w")
    return [order_update(tenant_id, order) for order in rest.get("orders", [])], [e.serialize() for e in entries]


def _held_after(change: MemberChange, now: datetime) -> dict | None:
    """The member's held guards after the change (stale ones dropped), or None when they stay as they are.
    The member's version condition stands for every one of them: none can change under the plan."""
    marks = [g for g in change.guards if keys.held(g)]
    cap = change.cap if change.cap and keys.held(change.cap[0]) else None
    if not marks and not cap:
        return None
    held = {g: n for g, n in change.member.held.items() if keys.held_fresh(g, now)}
    held.update(dict.fromkeys(marks, 0))
    if cap:
        guard, _, after = cap
        held[guard] = after
        if after == 0 and guard.kind == "limit":  # a limit counted back to nothing needs no key
            del held[guard]
    return held


def _write_purchase(tx: TransactWrite, tenant_id: str, order: RecordWrite, lot: LotWrite | None) -> None:
    """A purchase's order, with its pending lot (order_lots.py) when the plan writes it: one item, written once."""
    key = keys.record_key("purchase", tenant_id, order.key)
    if order.create:
        fields = {**order.fields, **(order_lots.made_fields(lot) if lot else {})}
        tx.save(OrderItem(*key, **fields), condition=OrderItem.pk.does_not_exist())
    else:
        actions = [OrderItem.version.set(order.version + 1)]
        actions += [getattr(OrderItem, k).set(v) for k, v in order.fields.items()]
        condition = OrderItem.version == order.version
        if lot is None:
            actions.append(OrderItem.due_new.remove())  # paged once, by the write that gave the due time
        else:
            actions += _lot_actions(lot, OrderItem, order_lots.KEPT)
            if (as_read := _as_read(lot, OrderItem)) is not None:
                condition = condition & as_read
        tx.update(OrderItem(*key), actions=actions, condition=condition)


def _write_invite(tx: TransactWrite, tenant_id: str, invite: RecordWrite) -> None:
    key = keys.record_key("invite", tenant_id, invite.key)
    fields = dict(invite.fields)
    if "lot" in fields:
        fields["lot_sk"] = keys.lot_sk(fields.pop("lot"))
    if invite.create:
        tx.save(GuardItem(*key, **fields), condition=GuardItem.pk.does_not_exist())
    else:
        tx.update(GuardItem(*key), actions=[getattr(GuardItem, k).set(v) for k, v in fields.items()])


def merge_lots(lots):
    merged: dict[Any, Any] = {}
    for lot in lots:
        if lot.lot in merged:
            prev = merged[lot.lot]
            prev.add += lot.add
            prev.set.update(lot.set)
            prev.due = lot.due or prev.due
            prev.clear_due = lot.clear_due or prev.clear_due
            prev.expect = prev.expect or lot.expect
        else:
            merged[lot.lot] = type(lot)(lot.lot, lot.add, dict(lot.set), lot.due, lot.clear_due, lot.expect)
    return merged.values()


def _lot_actions(lot: LotWrite, model=LotItem, kept: tuple[str, ...] | None = None) -> list:
    """The update of the item that holds a lot: a lot item, or a purchase's order (order_lots.py), which keeps only
    the lot's fields in `kept` (the rest are the order's own)."""
    actions = []
    if lot.add:
        actions.append(model.remaining.add(lot.add))
    for name, value in lot.set.items():
        if kept is None or name in kept:
            attr = getattr(model, name)
            actions.append(attr.remove() if value is None else attr.set(value))
    if lot.due:
        actions += [model.due_at.set(lot.due), model.due_new.set(lot.due)]
    elif lot.clear_due:
        actions += [model.due_at.remove(), model.due_new.remove()]
        if model is LotItem:  # the `lots_due` index keys of a lot written before the due pages
            actions += [LotItem.due_pk.remove(), LotItem.due_sk.remove()]
    else:
        actions.append(model.due_new.remove())  # paged once, by the write that gave the due time
    return actions


def _as_read(lot: LotWrite, model=LotItem):
    """The lot still as the plan read it (`expect`); None for a write that expects nothing."""
    return None if lot.expect is None else (model.state == lot.expect[0]) & (model.remaining == lot.expect[1])


def _board_pk(tenant_id: str, entry: Entry) -> str | None:
    """Earning entries list under their program day (leaderboards), redemptions under their own (metrics)."""
    if not entry.program_day:
        return None
    if entry.on_board:
        return keys.board_day_pk(tenant_id, entry.program_day)
    return keys.redemptions_day_pk(tenant_id, entry.program_day) if entry.kind == "spend" else None


def entry_item(pk: str, tenant_id: str, entry: Entry, now: datetime) -> EntryItem:
    return EntryItem(
        pk, keys.entry_sk(now, entry.entry_id),
        board_pk=_board_pk(tenant_id, entry),
        entry_id=entry.entry_id, kind=entry.kind, source_type=entry.source_type, source_id=entry.source_id,
        actor=entry.actor, reason=entry.reason, points=entry.points, deltas=entry.deltas, earned=entry.earned,
        lots=keys.lots_stored(entry.lots), group_id=entry.group_id, program_day=entry.program_day,
        occurred_at=entry.occurred_at, created_at=now,
    )
