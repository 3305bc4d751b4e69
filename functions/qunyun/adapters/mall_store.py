"""The points mall in the points table: rewards and their sharded stock, orders, owed notices."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from datetime import datetime

from pynamodb.exceptions import PutError
from pynamodb.transactions import TransactWrite

from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_tables import MallOrderItem, RewardItem, StockItem
from qunyun.adapters.redemptions import new_item, redemption_key, redemption_of
from qunyun.domain.ledger import RecordWrite
from qunyun.domain.mall import Redemption, RewardTerms

_TERMS = tuple(f.name for f in dataclass_fields(RewardTerms) if f.name not in ("id", "shards", "stock_added"))


def _terms_of(item: RewardItem) -> RewardTerms:
    return RewardTerms(item.sk, item.name, int(item.cost), int(item.shards or 1), int(item.stock_added or 0),
                       int(item.limit_per_member) if item.limit_per_member else None, item.limit_period,
                       item.active_from, item.active_until, item.fulfilment_url)


class MallStore:
    """Rewards, stock and orders; mixed into PointsLedger, whose snapshot and connection it reads."""

    def reward(self, tenant_id: str, reward_id: str) -> RewardTerms | None:
        item = self._get(RewardItem, (keys.rewards_pk(tenant_id), reward_id))
        return _terms_of(item) if item is not None else None

    def rewards(self, tenant_id: str) -> list[RewardTerms]:
        return [_terms_of(item) for item in RewardItem.query(keys.rewards_pk(tenant_id))]

    def stock(self, tenant_id: str, reward_id: str, shards: int) -> dict[int, int]:
        """Shard → units left, read consistently in one BatchGetItem (or from the snapshot)."""
        wanted = {keys.stock_pk(tenant_id, reward_id, i): i for i in range(shards)}
        snapshot = getattr(self._local, "snapshot", None) or {}
        found = {pk: int(StockItem.from_raw_data(snapshot[(pk, keys.STOCK_SK)]).stock) for pk in wanted
                 if snapshot.get((pk, keys.STOCK_SK)) is not None}
        missing = [(pk, keys.STOCK_SK) for pk in wanted if (pk, keys.STOCK_SK) not in snapshot]
        if missing:
            found.update({item.pk: int(item.stock) for item in StockItem.batch_get(missing, consistent_read=True)})
        return {shard: found.get(pk, 0) for pk, shard in wanted.items()}

    def add_reward(self, tenant_id: str, terms: RewardTerms, stock: list[int], now: datetime) -> None:
        """A new reward and its stock shards in one transaction."""
        with TransactWrite(connection=self._connection) as tx:
            item = RewardItem(keys.rewards_pk(tenant_id), terms.id, shards=terms.shards,
                              stock_added=terms.stock_added, created_at=now,
                              **{k: getattr(terms, k) for k in _TERMS})
            tx.save(item, condition=RewardItem.pk.does_not_exist())
            for i, units in enumerate(stock):
                tx.save(StockItem(keys.stock_pk(tenant_id, terms.id, i), keys.STOCK_SK, stock=units))

    def update_terms(self, tenant_id: str, terms: RewardTerms) -> None:
        """An existing reward's terms; its stock is left to `restock`."""
        with TransactWrite(connection=self._connection) as tx:
            actions = [getattr(RewardItem, k).set(getattr(terms, k)) if getattr(terms, k) is not None
                       else getattr(RewardItem, k).remove() for k in _TERMS]
            tx.update(RewardItem(keys.rewards_pk(tenant_id), terms.id), actions=actions,
                      condition=RewardItem.pk.exists())

    def restock(self, tenant_id: str, reward_id: str, changes: dict[int, int]) -> None:
        """Units added to (or taken from, never below zero) these shards, and to the units ever stocked."""
        with TransactWrite(connection=self._connection) as tx:
            tx.update(RewardItem(keys.rewards_pk(tenant_id), reward_id),
                      actions=[RewardItem.stock_added.add(sum(changes.values()))], condition=RewardItem.pk.exists())
            for shard, delta in changes.items():
                cond = StockItem.stock >= -delta if delta < 0 else None
                tx.update(StockItem(keys.stock_pk(tenant_id, reward_id, shard), keys.STOCK_SK),
                          actions=[StockItem.stock.add(delta)], condition=cond)

    def redemption(self, tenant_id: str, order_id: str) -> Redemption | None:
        item = self._get(MallOrderItem, redemption_key(tenant_id, order_id))
        return redemption_of(item) if item is not None and not item.void else None

    def save_failed(self, tenant_id: str, redemption: Redemption) -> bool:
        """Records a business failure under its request id; False when the id was taken meanwhile (a void order,
        left by a staged redemption that never claimed, is no order)."""
        item = new_item(tenant_id, RecordWrite.new(redemption, "order_id"))
        try:
            item.save(condition=MallOrderItem.pk.does_not_exist() | (MallOrderItem.void == True))  # noqa: E712
            return True
        except PutError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def notices(self, until: str, tenant_id: str | None = None, page: int = 100) -> Iterator[tuple[str, str]]:
        """(tenant, order) of orders with notices due by `until`, or, for a tenant, its parked ones."""
        for queue in keys.fulfil_queues(tenant_id):
            for item in MallOrderItem.fulfil.query(queue, MallOrderItem.fulfil_sk <= until + "~", limit=page):
                yield keys.record_tenant("redemption", item.pk), keys.record_id(item.pk)
