"""WeCom mass-send tasks whose groups await their owner: one item per task in the sparse `awaiting_owner` index,
the follow-up job's entry point (no Scan), shrunk as it records each group and deleted with the last."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime

from pynamodb.exceptions import DeleteError, UpdateError

from qunyun.adapters.deliveries_tables import WaitingTaskItem
from qunyun.adapters.delivery_keys import AWAITING_SHARDS, WAIT_SK, awaiting_keys, awaiting_shard, task_of, waiting_pk
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.owner_tasks import OwnerTask
from qunyun.domain.quota import Push


class AwaitingOwner:
    """The tasks awaiting an owner, in DeliveryRepository."""

    def await_owner(self, msgid: str, records: list[Delivery], now: datetime) -> None:
        """Enters task `msgid`, created for these records (one push of one date), in the `awaiting_owner` index,
        before the records themselves say so: the follow-up job settles a group whose record never did."""
        first = records[0]
        if any((r.tenant_id, r.date, r.push_id) != (first.tenant_id, first.date, first.push_id) for r in records):
            raise ValueError(f"task {msgid}: its records are not of one tenant, date and push")
        index_pk, index_sk = awaiting_keys(first.tenant_id, msgid)
        WaitingTaskItem(waiting_pk(first.tenant_id, msgid), WAIT_SK, awaiting_pk=index_pk, awaiting_sk=index_sk,
                        since=now, day=first.date.isoformat(), push_id=first.push_id, kind=first.kind,
                        edition=first.edition, waiting={r.group_id for r in records}).save()

    def settle_waiting(self, tenant_id: str, msgid: str, group_ids: Iterable[str]) -> None:
        """Takes groups off task `msgid`'s waiting list (recorded, or found moved on); the task leaves the
        index with its last group."""
        ids = set(group_ids)
        if not ids:
            return
        item = WaitingTaskItem(waiting_pk(tenant_id, msgid), WAIT_SK)
        try:
            item.update(actions=[WaitingTaskItem.waiting.delete(ids)], condition=WaitingTaskItem.pk.exists())
        except UpdateError as err:
            if conditional_failed(err):
                return  # settled and deleted by a concurrent run
            raise
        if not item.waiting:
            try:
                item.delete(condition=WaitingTaskItem.waiting.does_not_exist())
            except DeleteError as err:
                if not conditional_failed(err):
                    raise

    def awaiting_owner(self, first_shard: int = 0) -> Iterator[OwnerTask]:
        """Every WeCom task with groups awaiting its owner, from the sparse `awaiting_owner` index: one paged
        query per shard, starting at `first_shard` (any whole number: a caller that may stop early rotates it, so
        no shard always comes last). Each task's records are given as they were handed over (awaiting_owner with
        the msgid); the index is eventually consistent and the records may have moved on: a caller changes a
        record only through `move`, whose condition reads the record itself."""
        for n in range(AWAITING_SHARDS):
            for item in WaitingTaskItem.awaiting.query(awaiting_shard(first_shard + n)):
                tenant_id, msgid = task_of(item.awaiting_sk)
                push = Push(item.kind, item.push_id, item.edition)
                day = date.fromisoformat(item.day)
                records = tuple(Delivery.of(tenant_id, g, day, push, "wecom_customer_group", Status.awaiting_owner,
                                            item.since).model_copy(update={"message_ids": [msgid]})
                                for g in sorted(item.waiting or ()))
                yield OwnerTask(tenant_id, msgid, records, since=item.since)
