"""A purchase's pending points held in its order item (points_keys.in_order), not in a lot item of their own.

A purchase writes its order anyway, once and only once (the order is its tenant-wide record): the pending lot
written with it costs nothing more, where a lot item cost a write unit of every purchase. The order holds the lot
under LotItem's own names (`state`, `remaining`, `settle_at`, `due_at`, `due_new`), so the writer updates it, under the
lot as read, with the same actions as a lot item (points_writer._lot_actions), and the due pages list it as a lot; a
refund that moves both writes the order once.

An order made before holds no lot: its lot item (`P#purchase#{order}` under the member) is moved into the order by
the first reader of that lot (`LedgerReads.lot`), or by `qunyun points migrate` for the whole tenant, in one
transaction conditioned on the lot as read and on the order holding no lot yet. Every write of a purchase's lot
then goes to the order.
"""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_keys import Key
from qunyun.adapters.points_tables import LotItem, OrderItem
from qunyun.domain.ledger import LotId, LotState, LotWrite

KEPT = ("state", "settle_at")  # what of a LotWrite's `set` the order keeps: the rest is the order's own


def old_lot_key(tenant_id: str, member_id: str, lot: LotId) -> Key:
    """Where a purchase's lot lived before it moved into its order."""
    return keys.member_pk(tenant_id, member_id), keys.lot_sk(lot)


def lot_of_order(order: OrderItem) -> LotState | None:
    """The pending lot an order holds; None when it holds none (it earned nothing, or its lot is not moved yet)."""
    if order.state is None:
        return None
    return LotState(id=LotId("purchase", keys.record_id(order.pk)), state=order.state,
                    remaining=int(order.remaining or 0), settle_at=order.settle_at, source_type="purchase",
                    source_id=keys.record_id(order.pk), group_id=order.group_id)


def made_fields(lot: LotWrite) -> dict:
    """A new order's lot fields, for its put."""
    fields = {k: v for k, v in lot.set.items() if k in KEPT and v is not None}
    fields["remaining"] = lot.add
    if lot.due:
        fields["due_at"] = fields["due_new"] = lot.due
    return fields


def _due_of(item: LotItem) -> str | None:
    if item.state != "pending":
        return None
    return item.due_at or (keys.due_sk_time(item.due_sk) if item.due_sk else None)


def move_into_order(connection: Connection, tenant_id: str, item: LotItem) -> bool:
    """Moves a lot item of the old layout into its order, in one transaction: the order must exist and hold no lot,
    the lot must be as read. A due time is given anew (`due_new`), so the stream pages the order's line. False when
    a condition failed: read again (another reader moved it, or a writer of the old code changed it)."""
    order_key = keys.record_key("purchase", tenant_id, keys.lot_of(item.sk).name)
    actions = [OrderItem.state.set(item.state), OrderItem.remaining.set(int(item.remaining or 0))]
    if item.settle_at:
        actions.append(OrderItem.settle_at.set(item.settle_at))
    if due := _due_of(item):
        actions += [OrderItem.due_at.set(due), OrderItem.due_new.set(due)]
    as_read = (LotItem.state == item.state) & (LotItem.remaining == int(item.remaining or 0))
    try:
        with TransactWrite(connection=connection) as tx:
            tx.update(OrderItem(*order_key), actions=actions,
                      condition=OrderItem.pk.exists() & OrderItem.state.does_not_exist())
            tx.delete(LotItem(item.pk, item.sk), condition=as_read)
        return True
    except TransactWriteError as err:
        if err.cause_response_code in ("TransactionCanceledException", "TransactionConflictException"):
            return False
        raise
