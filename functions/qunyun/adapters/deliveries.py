"""The deliveries repository: a group's counters (daily cap, WeCom quota) and its delivery records."""

from __future__ import annotations

from datetime import date

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from qunyun.adapters.deliveries_tables import CounterItem, _DeliveriesMeta
from qunyun.domain.quota import Allowance, Push, Spent

_LOST = ("ConditionalCheckFailed", "TransactionConflict")


def group_pk(tenant_id: str, group_id: str) -> str:
    return f"{tenant_id}#{group_id}"


def day_sk(day: date) -> str:
    return f"DAY#{day.isoformat()}"


def quota_sk(period_key: str) -> str:
    return f"QUOTA#{period_key}"


class DeliveryRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=_DeliveriesMeta.region, host=_DeliveriesMeta.host,
                                      max_retry_attempts=_DeliveriesMeta.max_retry_attempts)

    def spent(self, tenant_id: str, group_id: str, day: date, period_key: str | None) -> Spent:
        """What the group has spent on the day and in the quota period, read consistently in one request."""
        pk = group_pk(tenant_id, group_id)
        keys = [(pk, day_sk(day))] + ([(pk, quota_sk(period_key))] if period_key else [])
        found = {item.sk: item for item in CounterItem.batch_get(keys, consistent_read=True)}
        today = found.get(day_sk(day))
        period = found.get(quota_sk(period_key)) if period_key else None
        return Spent(day=int(today.spent) if today else 0, period=int(period.spent) if period else 0,
                     pushes=frozenset(today.pushes or ()) if today else frozenset())

    def spend(self, tenant_id: str, group_id: str, day: date, push: Push, limits: Allowance) -> bool:
        """Spends one slot of the day, and of the quota period when there is one, in one transaction.

        Conditions make it all or nothing: the push must not have spent on the day yet, and fewer than the
        allowed pushes (mass sends) may be spent. False when a condition failed or a concurrent transaction
        on the same counters won; the caller reads again and decides again."""
        pk = group_pk(tenant_id, group_id)
        on_day = (CounterItem.spent.does_not_exist() | (CounterItem.spent < limits.day)) \
            & ~CounterItem.pushes.contains(push.push_id)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.update(CounterItem(pk, day_sk(day)), condition=on_day,
                          actions=[CounterItem.spent.add(1), CounterItem.pushes.add({push.push_id})])
                if limits.period_key is not None:
                    in_period = CounterItem.spent.does_not_exist() | (CounterItem.spent < limits.period)
                    tx.update(CounterItem(pk, quota_sk(limits.period_key)), condition=in_period,
                              actions=[CounterItem.spent.add(1)])
        except TransactWriteError as err:
            reasons = [getattr(r, "code", None) for r in (err.cancellation_reasons or []) if r]
            if err.cause_response_code == "TransactionConflictException" or any(r in _LOST for r in reasons):
                return False
            raise
        return True
