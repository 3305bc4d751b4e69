"""Mall orders as stored: a Redemption to and from its MallOrderItem, and its writes in a transaction.

An order with notices owed to its reward's fulfilment URL sits on the sparse `fulfil` index (the
transactional outbox): due notices spread over shards by order, parked ones listed under their tenant.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from typing import Any

from pynamodb.transactions import TransactWrite

from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_tables import MallOrderItem, StockItem
from qunyun.domain.ledger import RecordWrite
from qunyun.domain.mall import Redemption

_STORED_AS_IS = tuple(f.name for f in dataclass_fields(Redemption)
                      if f.name not in ("order_id", "lots", "shards", "limit", "fulfil_at"))


def redemption_key(tenant_id: str, order_id: str) -> keys.Key:
    return keys.record_key("redemption", tenant_id, order_id)


def redemption_attrs(tenant_id: str, order_id: str, changed: dict[str, Any]) -> dict[str, Any]:
    """The item attributes of these Redemption fields."""
    attrs = {k: v for k, v in changed.items() if k in _STORED_AS_IS}
    if "lots" in changed:
        attrs["lots"] = keys.lots_stored(changed["lots"])
    if "shards" in changed:
        attrs["shards"] = {keys.stock_pk(tenant_id, changed["reward_id"], shard): units
                           for shard, units in changed["shards"].items()}
    if "limit" in changed:
        attrs["limit_sk"] = keys.guard_sk(changed["limit"]) if changed["limit"] else None
    if "fulfil_at" in changed:
        at = changed["fulfil_at"]
        state = changed.get("fulfil_state", "due")
        attrs["fulfil_pk"] = keys.fulfil_pk(tenant_id, order_id, state) if at else None
        attrs["fulfil_sk"] = keys.fulfil_sk(tenant_id, order_id, at) if at else None
    return attrs


def redemption_of(item: MallOrderItem) -> Redemption:
    tenant_id, order_id = keys.record_tenant("redemption", item.pk), keys.record_id(item.pk)
    return Redemption(
        order_id, item.request_id, item.member_id, item.reward_id, int(item.quantity), item.status,
        int(item.status_code), item.response, item.created_at, points_spent=int(item.points_spent or 0),
        lots=keys.lots_read(item.lots), shards={keys.shard_of(pk): int(n) for pk, n in (item.shards or {}).items()},
        limit=keys.guard_of(item.limit_sk) if item.limit_sk else None, cancel_request_id=item.cancel_request_id,
        cancel_response=item.cancel_response, fulfilment_url=item.fulfilment_url, fulfil_state=item.fulfil_state,
        fulfil_attempts=int(item.fulfil_attempts or 0), fulfil_error=item.fulfil_error,
        fulfil_events=list(item.fulfil_events or []),
        fulfil_at=item.fulfil_sk.removesuffix(f"#{tenant_id}#{order_id}") if item.fulfil_sk else None,
        version=int(item.version or 0))


def new_item(tenant_id: str, write: RecordWrite) -> MallOrderItem:
    """A new order as stored; what is empty (no notices owed, no attempt made) is left out."""
    attrs = redemption_attrs(tenant_id, write.key, write.fields)
    kept = {k: v for k, v in attrs.items() if v not in (None, 0, []) or k in ("points_spent", "version")}
    return MallOrderItem(*redemption_key(tenant_id, write.key), **kept)


def write_redemption(tx: TransactWrite, tenant_id: str, write: RecordWrite, settled: bool = False) -> None:
    """Creates the order (its request id not taken yet, or void) or updates it at the version it was read. An
    update that comes with its member's change (`settled`: a cancellation, planned from a settled member) drops
    what a staged redemption left to roll forward; a cancelled order then stays under 1 KB."""
    if write.create:
        tx.save(new_item(tenant_id, write), condition=MallOrderItem.pk.does_not_exist() | (MallOrderItem.void == True))  # noqa: E712
        return
    actions = [MallOrderItem.version.set(write.version + 1)]
    if settled:
        actions += [MallOrderItem.rest.remove(), MallOrderItem.board_pk.remove()]
    for k, v in redemption_attrs(tenant_id, write.key, write.fields).items():
        attr = getattr(MallOrderItem, k)
        actions.append(attr.remove() if v is None else attr.set(v))
    tx.update(MallOrderItem(*redemption_key(tenant_id, write.key)), actions=actions,
              condition=MallOrderItem.version == write.version)


def write_claim(tx: TransactWrite, tenant_id: str, write: RecordWrite, stock: list, token: str, rest: dict,
                listed: bool = False) -> None:
    """A staged redemption's claim (adapters/points_stage.py): its order, naming the stage's token and what is
    left to write, and its stock taken; the order stands once it exists. Refused when the request id is taken (but
    by a void of another token) or a shard lacks the units. `listed`: its spend entry is kept in its member item
    (kept_spend.py), and the order names the day's redemption list in its place (earning_pages.py)."""
    order = new_item(tenant_id, write)
    order.token, order.rest = token, rest
    if listed:
        order.board_pk = keys.redemptions_day_pk(tenant_id, rest["d"])
    tx.save(order, condition=MallOrderItem.pk.does_not_exist() | (
        (MallOrderItem.void == True) & (MallOrderItem.token != token)))  # noqa: E712
    write_stock(tx, tenant_id, stock)


def write_stock(tx: TransactWrite, tenant_id: str, stock: list) -> None:
    """Each shard moved by its units; one taken from only if it holds them (a cancellation's return is not)."""
    for move in stock:
        cond = (StockItem.stock >= -move.units) if move.units < 0 else None
        tx.update(StockItem(keys.stock_pk(tenant_id, move.reward_id, move.shard), keys.STOCK_SK),
                  actions=[StockItem.stock.add(move.units)], condition=cond)
