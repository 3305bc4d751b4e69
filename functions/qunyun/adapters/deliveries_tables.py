"""PynamoDB models of the deliveries table: what each group was pushed, and the counters that ration it.

    pk                              sk                      item
    {tenant}#DAY#{date}#{shard}     {group}                 DayItem: a group's local day: the pushes that spent its
                                                            daily cap, and every push's delivery record
    {tenant}#{group}                QUOTA#{period}          CounterItem: the pushes that spent a WeCom mass send of a
                                                            quota period
    {tenant}#~wait#{msgid}          WAIT                    WaitingTaskItem: a WeCom task's groups still awaiting its
                                                            owner
    {tenant}#~task                  TASK#{msgid}            OwnerTaskItem: what the follow-up job did to a task
    {tenant}#~out#{token}           OUT                     OutcomePageItem: the outcomes of the pushes a sender
                                                            claimed with one token, recorded together

A group's day is one item: spending a slot of its daily cap, recording the push and claiming it for the send
are one conditional write. Recording the outcome is a second write on the day, or (a direct channel's send)
one entry of an OutcomePageItem, written once for up to 25 outcomes, under the claim token their records were
claimed with (a SendPushes batch takes a new token for each page): a planned record still claimed with a token
reads as the outcome that token's page holds for it (DeliveryRepository resolves it on every read, by key), so a
push costs one write unit and a 25th of its page instead of two. The day's items are keyed by tenant, date
and one of `DAY_SHARDS` shards of the group id, so listing a tenant's day is a query per shard of the table
itself (no index to keep in step) and one tenant's 08:00 spreads its writes over that many partitions.
Records are small maps under `records`, keyed by push id, with one- or two-letter names (adapters/delivery_maps.py
`SHORT`): every write is billed by the item's size, and a day of a few pushes stays under one write unit.
A WeCom mass-send task whose groups await their owner's confirmation has one WaitingTaskItem, in the sparse
`awaiting_owner` index by task (`{tenant}#{msgid}` in one of a few shards): the push and the ids of the groups
still waiting, written once for the task's up to 2,000 groups and shrunk as the follow-up job records them,
which finds its work there, never by a Scan. (Group ids never hold `#` or `~`.)
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from qunyun.adapters.tables import _Keyed, _Meta
from qunyun.settings import get_settings

TABLE = get_settings().table("deliveries")


class _DeliveriesMeta(_Meta):
    table_name = TABLE


class AwaitingOwnerIndex(GlobalSecondaryIndex):
    """WeCom tasks with groups awaiting their owner, by shard, then tenant and task (msgid)."""

    class Meta:
        index_name = "awaiting_owner"
        projection = AllProjection()

    awaiting_pk = UnicodeAttribute(hash_key=True)
    awaiting_sk = UnicodeAttribute(range_key=True)


class _Item(_Keyed):
    class Meta(_DeliveriesMeta):
        pass


class DayItem(_Item):
    """One group's local day (the group is the sort key)."""

    class Meta(_DeliveriesMeta):
        pass

    spent = NumberAttribute(default=0)
    pushes = UnicodeSetAttribute(null=True)  # the ids of the pushes that spent, so no push spends twice
    records = MapAttribute(default=dict)  # push id → its delivery record (short names)


class CounterItem(_Item):
    """The WeCom mass sends a customer group spent in a quota period: one short token per push (its local date
    and a checksum of its id, adapters/delivery_keys.py `quota_token`), so a month's 31 stay under one write unit
    and spending again for the same push adds nothing."""

    class Meta(_DeliveriesMeta):
        pass

    pushes = UnicodeSetAttribute(null=True)


class WaitingTaskItem(_Item):
    """One WeCom mass-send task's push and the groups still awaiting its owner: the follow-up job's entry point.
    It is written before the task's records say awaiting_owner, loses each group the follow-up job records (or
    finds moved on: a sender that stopped mid-handover), and is deleted with the last one."""

    class Meta(_DeliveriesMeta):
        pass

    awaiting = AwaitingOwnerIndex()
    awaiting_pk = UnicodeAttribute()
    awaiting_sk = UnicodeAttribute()
    since = UTCDateTimeAttribute()
    day = UnicodeAttribute()  # the groups' local date
    push_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    edition = UnicodeAttribute(null=True)
    waiting = UnicodeSetAttribute(null=True)  # group ids


class OutcomePageItem(_Item):
    """Outcomes of pushes claimed with one token (up to 25 of a SendPushes batch), keyed
    `{group}#{local date}#{push id}`, each the fields `finish` would set (adapters/delivery_maps.py `SHORT` names).
    An entry counts only while its record is still `planned` and claimed with the page's token: a record taken
    over, given back or moved since reads as stored."""

    class Meta(_DeliveriesMeta):
        pass

    outcomes = MapAttribute(default=dict)


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
