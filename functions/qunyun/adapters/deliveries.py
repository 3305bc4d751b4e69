"""The deliveries repository: a group's counters (daily cap, WeCom quota) and its delivery records."""

from __future__ import annotations

import heapq
import itertools
import zlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from qunyun.adapters.deliveries_tables import CounterItem, DeliveryItem, _DeliveriesMeta
from qunyun.domain.deliveries import MOVES, Delivery, Status
from qunyun.domain.owner_tasks import OwnerTask
from qunyun.domain.quota import Allowance, Push, Spent

_LOST = ("ConditionalCheckFailed", "TransactionConflict")
DAY_SHARDS = 4
AWAITING_SHARDS = 8
_FIELDS = tuple(f for f in Delivery.model_fields if f not in ("date",))


def group_pk(tenant_id: str, group_id: str) -> str:
    return f"{tenant_id}#{group_id}"


def day_sk(day: date) -> str:
    return f"DAY#{day.isoformat()}"


def quota_sk(period_key: str) -> str:
    return f"QUOTA#{period_key}"


def push_sk(day: date, push_id: str) -> str:
    return f"PUSH#{day.isoformat()}#{push_id}"


def day_shard(tenant_id: str, day: date, group_id: str) -> str:
    return f"{tenant_id}#{day.isoformat()}#{zlib.crc32(group_id.encode()) % DAY_SHARDS}"


def awaiting_keys(tenant_id: str, group_id: str, msgid: str) -> tuple[str, str]:
    """The `awaiting_owner` index keys of a record waiting for the owner of task `msgid`: all of a task's
    records share a shard and sort together, so one pass over a shard meets each task's groups in a row."""
    task = f"{tenant_id}#{msgid}"
    return f"{zlib.crc32(task.encode()) % AWAITING_SHARDS:02d}", f"{task}#{group_id}"


def task_of(awaiting_sk: str) -> str:
    """`{tenant}#{msgid}` of an index key (group ids hold no `#`)."""
    return awaiting_sk.rpartition("#")[0]


def awaiting_actions(record: Delivery, status: Status, message_ids: list[str], now: datetime) -> list:
    """Update actions that keep a record's index entry in step with its status: set when it starts awaiting
    the owner of a task (the last of `message_ids`), removed when it leaves awaiting_owner."""
    if status is not Status.awaiting_owner:
        return [DeliveryItem.awaiting_pk.remove(), DeliveryItem.awaiting_sk.remove()]
    if not message_ids:
        return []  # no task named: stays as it is
    pk, sk = awaiting_keys(record.tenant_id, record.group_id, message_ids[-1])
    return [DeliveryItem.awaiting_pk.set(pk), DeliveryItem.awaiting_sk.set(sk),
            DeliveryItem.awaiting_since.set(DeliveryItem.awaiting_since | now)]


def _to_item(d: Delivery) -> DeliveryItem:
    data = {k: getattr(d, k) for k in _FIELDS}
    data["status"] = d.status.value
    item = DeliveryItem(group_pk(d.tenant_id, d.group_id), push_sk(d.date, d.push_id),
                        day_pk=day_shard(d.tenant_id, d.date, d.group_id), day_sk=f"{d.group_id}#{d.push_id}",
                        date=d.date.isoformat(), **data)
    if d.status is Status.awaiting_owner and d.message_ids:
        item.awaiting_pk, item.awaiting_sk = awaiting_keys(d.tenant_id, d.group_id, d.message_ids[-1])
        item.awaiting_since = d.updated_at
    return item


def _from_item(item: DeliveryItem) -> Delivery:
    data = {k: getattr(item, k) for k in _FIELDS}
    data["message_ids"] = list(item.message_ids or [])
    return Delivery(date=date.fromisoformat(item.date), **data)


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

    def spend(self, tenant_id: str, group_id: str, day: date, push: Push, limits: Allowance,
              record: Delivery | None = None) -> bool:
        """Spends one slot of the day, and of the quota period when there is one, in one transaction, with
        the push's delivery `record` when given (written only if the push has none yet).

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
                if record is not None:
                    tx.save(_to_item(record), condition=DeliveryItem.pk.does_not_exist())
        except TransactWriteError as err:
            reasons = [getattr(r, "code", None) for r in (err.cancellation_reasons or []) if r]
            if err.cause_response_code == "TransactionConflictException" or any(r in _LOST for r in reasons):
                return False
            raise
        return True

    # ---- delivery records ---------------------------------------------------------------------------
    def add(self, record: Delivery) -> bool:
        """Writes a record of a push that spent nothing (a skip); False when the push has one already."""
        try:
            _to_item(record).save(condition=DeliveryItem.pk.does_not_exist())
            return True
        except PutError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def forget_skip(self, tenant_id: str, group_id: str, day: date, push_id: str, reasons: Iterable[str]) -> bool:
        """Removes a push's record if it is a skip for one of `reasons` (it spent nothing), so the push can be
        planned again; False when there is none, or it says something else (sent, another reason)."""
        item = DeliveryItem(group_pk(tenant_id, group_id), push_sk(day, push_id))
        try:
            item.delete(condition=(DeliveryItem.status == Status.skipped.value)
                        & DeliveryItem.reason.is_in(*reasons))
            return True
        except DeleteError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def get(self, tenant_id: str, group_id: str, day: date, push_id: str) -> Delivery | None:
        try:
            return _from_item(DeliveryItem.get(group_pk(tenant_id, group_id), push_sk(day, push_id),
                                               consistent_read=True))
        except DeliveryItem.DoesNotExist:
            return None

    def move(self, record: Delivery, status: Status, now: datetime, *, reason: str | None = None,
             error: str | None = None, message_ids: Iterable[str] = (), attempt: bool = False,
             sent_at: datetime | None = None) -> Delivery | None:
        """Moves a record to `status` if its stored status allows it (domain MOVES), counting an attempt and
        adding platform message ids; None when the stored record had moved on meanwhile. A record sent
        records `sent_at` (default `now`); one leaving awaiting_owner leaves the `awaiting_owner` index."""
        allowed = [s.value for s in Status if status in MOVES[s]]
        actions = [DeliveryItem.status.set(status.value), DeliveryItem.updated_at.set(now)]
        actions += [DeliveryItem.reason.set(reason)] if reason is not None else []
        actions += [DeliveryItem.error.set(error)] if error is not None else []
        actions += [DeliveryItem.attempts.add(1)] if attempt else []
        ids = list(message_ids)
        actions += [DeliveryItem.message_ids.set((DeliveryItem.message_ids | []).append(ids))] if ids else []
        actions += [DeliveryItem.sent_at.set(sent_at or now)] if status is Status.sent else []
        actions += awaiting_actions(record, status, ids, now)
        item = DeliveryItem(group_pk(record.tenant_id, record.group_id), push_sk(record.date, record.push_id))
        try:
            item.update(actions=actions, condition=DeliveryItem.pk.exists() & DeliveryItem.status.is_in(*allowed))
        except UpdateError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return _from_item(item)

    def on_day(self, tenant_id: str, day: date, group_id: str | None = None) -> list[Delivery]:
        """The tenant's records of a local date (one group's, when given), by group and push, from the
        `day` index: one query per shard, or one for a group."""
        if group_id is not None:
            return [_from_item(i) for i in DeliveryItem.day.query(
                day_shard(tenant_id, day, group_id), DeliveryItem.day_sk.startswith(f"{group_id}#"))]
        shards = [DeliveryItem.day.query(f"{tenant_id}#{day.isoformat()}#{n}") for n in range(DAY_SHARDS)]
        return [_from_item(i) for i in heapq.merge(*shards, key=lambda i: i.day_sk)]

    def awaiting_owner(self, first_shard: int = 0) -> Iterator[OwnerTask]:
        """Every WeCom task with records still awaiting its owner, with those records, from the sparse
        `awaiting_owner` index: one paged query per shard, starting at `first_shard` (a caller that may stop
        early rotates it, so no shard always comes last), each task's records in a row. The index is
        eventually consistent: a record just moved on may still show, one just handed over may not yet."""
        for n in range(AWAITING_SHARDS):
            items = DeliveryItem.awaiting.query(f"{(first_shard + n) % AWAITING_SHARDS:02d}")
            for task, rows in itertools.groupby(items, key=lambda i: task_of(i.awaiting_sk)):
                rows = list(rows)
                tenant_id, _, msgid = task.partition("#")
                yield OwnerTask(tenant_id, msgid, tuple(_from_item(i) for i in rows),
                                since=min(i.awaiting_since or i.updated_at for i in rows))

    def of_group(self, tenant_id: str, group_id: str, limit: int = 100) -> Iterator[Delivery]:
        """One group's records, newest date first."""
        for item in DeliveryItem.query(group_pk(tenant_id, group_id), DeliveryItem.sk.startswith("PUSH#"),
                                       scan_index_forward=False, limit=limit):
            yield _from_item(item)
