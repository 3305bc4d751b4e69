"""`qunyun points migrate`, its fifth part: each purchase's lot item of the old layout moved into its order.

Member by member in the tenant's list, each `P#purchase#{order}` lot item is moved as its first reader would move it
(order_lots.move_into_order): one transaction, conditioned on the lot as read and on the order holding no lot yet.
A lot changed meanwhile by a writer is read again; one moved by a reader meanwhile is gone. A second run finds
nothing to move."""

from __future__ import annotations

from qunyun.adapters import points_keys as keys
from qunyun.adapters.order_lots import move_into_order
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import LotItem
from qunyun.domain.ledger import LotId

_OLD = keys.lot_sk(LotId("purchase", ""))  # "P#purchase#": where a purchase's lot lived


def move_order_lots(tenant_id: str, ledger: PointsLedger | None = None) -> int:
    """Moves the tenant's purchase lot items into their orders; returns how many it moved."""
    ledger, moved = ledger or PointsLedger(), 0
    for member_id in list(ledger.members(tenant_id)):
        pk = keys.member_pk(tenant_id, member_id)
        for item in LotItem.query(pk, LotItem.sk.startswith(_OLD), consistent_read=True):
            moved += _move(ledger, tenant_id, item)
    return moved


def _move(ledger: PointsLedger, tenant_id: str, item: LotItem) -> int:
    for _ in range(25):
        if move_into_order(ledger._connection, tenant_id, item):
            return 1
        try:  # changed or moved meanwhile: read it again
            item = LotItem.get(item.pk, item.sk, consistent_read=True)
        except LotItem.DoesNotExist:
            return 0
    raise RuntimeError(f"the lot {item.sk} of {item.pk} kept changing; run the migration again")
