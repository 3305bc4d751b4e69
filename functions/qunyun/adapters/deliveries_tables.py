"""PynamoDB models of the deliveries table: what each group was pushed, and the counters that ration it.

    pk                  sk                      item
    {tenant}#{group}    DAY#{date}              CounterItem: pushes spent on the group's local day, and their ids
    {tenant}#{group}    QUOTA#{period}          CounterItem: WeCom mass sends spent in a quota period (M…, W…, D…)
    {tenant}#{group}    PUSH#{date}#{push_id}   DeliveryItem: one push's delivery record
    {tenant}#~task      TASK#{msgid}            OwnerTaskItem: what the follow-up job did to a WeCom mass-send task

A group's counters and records share its partition, so spending a slot and recording the push is one
transaction on one partition, and a big tenant's 08:00 spreads over as many partitions as it has groups.
Records are listed by tenant and date through the sparse `day` index, sharded like the points table's due
index so that one tenant's thousands of groups at 08:00 do not all write one index partition.
Records awaiting a WeCom owner's confirmation are also in the sparse `awaiting_owner` index, by task
(`{tenant}#{msgid}#{group}` in one of a few shards): the follow-up job finds its work there, never by a Scan,
and a record leaves the index when it leaves `awaiting_owner`. (Group ids never hold `#` or `~`.)
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from qunyun.adapters.tables import _Meta
from qunyun.settings import get_settings

TABLE = get_settings().table("deliveries")


class _DeliveriesMeta(_Meta):
    table_name = TABLE


class DayIndex(GlobalSecondaryIndex):
    """Delivery records by tenant and local date ({tenant}#{date}#{shard}), then group and push."""

    class Meta:
        index_name = "day"
        projection = AllProjection()

    day_pk = UnicodeAttribute(hash_key=True)
    day_sk = UnicodeAttribute(range_key=True)


class AwaitingOwnerIndex(GlobalSecondaryIndex):
    """Delivery records awaiting a WeCom owner, by shard, then tenant, task (msgid) and group."""

    class Meta:
        index_name = "awaiting_owner"
        projection = AllProjection()

    awaiting_pk = UnicodeAttribute(hash_key=True)
    awaiting_sk = UnicodeAttribute(range_key=True)


class _Item(Model):
    class Meta(_DeliveriesMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class CounterItem(_Item):
    class Meta(_DeliveriesMeta):
        pass

    spent = NumberAttribute(default=0)
    # Day counters only: the ids of the pushes that spent, so the same push never spends twice.
    pushes = UnicodeSetAttribute(null=True)


class DeliveryItem(_Item):
    class Meta(_DeliveriesMeta):
        pass

    day = DayIndex()
    day_pk = UnicodeAttribute()
    day_sk = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    group_id = UnicodeAttribute()
    date = UnicodeAttribute()  # the group's local date, YYYY-MM-DD
    kind = UnicodeAttribute()  # brief | reminder | farewell
    edition = UnicodeAttribute(null=True)  # morning | evening, for briefs
    push_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()  # planned | sent | skipped | failed | awaiting_owner | cancelled
    reason = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    error = UnicodeAttribute(null=True)
    message_ids = ListAttribute(of=UnicodeAttribute, default=list)
    quota_period = UnicodeAttribute(null=True)  # the WeCom quota period the push spent from, if any
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    # BriefSend's claim on a planned push while it sends (adapters/delivery_claims.py): who holds it, since
    # when, and how many parts of the message reached the group before a transient failure.
    claim = UnicodeAttribute(null=True)
    claimed_at = UTCDateTimeAttribute(null=True)
    parts_sent = NumberAttribute(null=True)
    # Set only while the record is awaiting_owner (adapters/deliveries.py awaiting_keys): the follow-up job's
    # index, and since when the owner's task exists.
    awaiting = AwaitingOwnerIndex()
    awaiting_pk = UnicodeAttribute(null=True)
    awaiting_sk = UnicodeAttribute(null=True)
    awaiting_since = UTCDateTimeAttribute(null=True)


class OwnerTaskItem(_Item):
    """The follow-up job's log of one mass-send task: reminders sent (those of the last 24 hours), when it asked
    WeCom to cancel the task, and the scheduled time of the last run that finished with it. `version` guards
    each change, so concurrent runs never remind twice."""

    class Meta(_DeliveriesMeta):
        pass

    reminders = ListAttribute(of=UTCDateTimeAttribute, default=list)
    cancel_requested_at = UTCDateTimeAttribute(null=True)
    checked_at = UTCDateTimeAttribute(null=True)
    version = NumberAttribute(default=0)
