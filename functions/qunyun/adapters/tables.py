"""PynamoDB models of the tables declared in template.yaml (tests/unit/test_schema.py keeps them in step)."""

from __future__ import annotations

import threading

from botocore.session import Session, get_session
from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from qunyun.settings import get_settings

_settings = get_settings()


def conditional_failed(err: Exception) -> bool:
    """Whether a PynamoDB write error is DynamoDB refusing the write's condition (not a fault to raise)."""
    return getattr(err, "cause_response_code", None) == "ConditionalCheckFailedException"


class _Meta:
    region = _settings.region
    host = _settings.dynamodb_endpoint
    # Lambda keeps connections warm; a short connect timeout fails fast instead of hanging a webhook.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


_thread = threading.local()


def thread_session() -> Session:
    """This thread's botocore session: the connections that make their client in this thread make it from this one."""
    session = getattr(_thread, "session", None)
    if session is None:
        session = _thread.session = get_session()
    return session


def share_session(connection: Connection) -> Connection:
    """Has a PynamoDB connection that has no client yet make it from the thread's botocore session.

    PynamoDB makes a botocore session per connection, and a model has a connection of its own; a session
    loads botocore's service model and endpoint rules before its first client (about 100 ms, each time),
    while a client of a session that has loaded them takes a few milliseconds. A connection makes its client
    once, for every thread; sessions stay per thread, as PynamoDB keeps them (botocore does not make clients
    thread-safely from one session), and a thread that finds the client made makes no session."""
    local = connection._local  # PynamoDB's per-thread holder of the connection's session
    if connection._client is None and getattr(local, "session", None) is None:
        local.session = thread_session()
    return connection


class _Table(Model):
    """The base of qunyun's models: their connections share the thread's botocore session (`share_session`)."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        connection = super()._get_connection()
        share_session(connection.connection)
        return connection


class _Keyed(_Table):
    """The base of the single-table items, keyed by a string partition key `pk` and sort key `sk`."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class TenantIndex(GlobalSecondaryIndex):
    """Every tenant, for jobs that visit each tenant in turn (a handful of items, never a Scan)."""

    class Meta:
        index_name = "all"
        projection = KeysOnlyProjection()

    kind = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class TenantItem(_Table):
    class Meta(_Meta):
        table_name = _settings.table("tenants")

    all = TenantIndex()
    tenant_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="tenant")
    name = UnicodeAttribute()
    timezone = UnicodeAttribute()
    secret_ref = UnicodeAttribute()
    policy = MapAttribute(default=dict)
    rules = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class TimezonesItem(_Table):
    """The timezones groups live in (a set kept up to date by every group import), so BriefDispatch knows
    which local slots to look up without scanning the groups table. Its key is no valid tenant id."""

    class Meta(_Meta):
        table_name = _settings.table("tenants")

    tenant_id = UnicodeAttribute(hash_key=True, default="~timezones")
    timezones = UnicodeSetAttribute(null=True)


class BriefCheckpointItem(_Table):
    """The last 5-minute slot (a UTC instant) BriefDispatch finished: the next run catches up from there."""

    class Meta(_Meta):
        table_name = _settings.table("tenants")

    tenant_id = UnicodeAttribute(hash_key=True, default="~brief-dispatch")
    until = UTCDateTimeAttribute(null=True)


class _SlotIndex(GlobalSecondaryIndex):
    """Active groups by `{edition}#{HH:MM}#{timezone}`: the 5-minute slot an edition is due at, local time.

    Two sparse indexes (one per edition) on the group item itself rather than one item per slot: a group stays
    one item, so an import is still one BatchWriteItem put per group and a changed or disabled slot cannot
    leave a stale slot item behind (the put replaces the attribute, or drops it). The range key spreads a
    slot's groups by tenant, and the projection holds what the dispatcher needs to aggregate customer groups
    by owner without reading the groups themselves."""

    class Meta:
        projection = IncludeProjection(["channel", "owner", "chat_id"])


class MorningSlotIndex(_SlotIndex):
    class Meta(_SlotIndex.Meta):
        index_name = "morning_slot"

    morning_slot = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class EveningSlotIndex(_SlotIndex):
    class Meta(_SlotIndex.Meta):
        index_name = "evening_slot"

    evening_slot = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class ChatIndex(GlobalSecondaryIndex):
    """The group a platform chat is (its CSV chat_id), for the callbacks of that chat; sparse by nature."""

    class Meta:
        index_name = "chat"
        projection = KeysOnlyProjection()

    chat_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class GroupItem(_Table):
    class Meta(_Meta):
        table_name = _settings.table("groups")

    chat = ChatIndex()
    morning_index = MorningSlotIndex()
    evening_index = EveningSlotIndex()
    # `{edition}#{HH:MM slot}#{timezone}` while the group is active and has the edition; absent otherwise.
    morning_slot = UnicodeAttribute(null=True)
    evening_slot = UnicodeAttribute(null=True)
    # Set when a channel answers with a permanent failure (revoked key, bad signature); briefs skip the group
    # until the operator fixes the channel and imports the group again.
    channel_broken = UnicodeAttribute(null=True)
    tenant_id = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    channel = UnicodeAttribute()
    webhook_ref = UnicodeAttribute(null=True)
    webhook_host = UnicodeAttribute(null=True)
    secret_ref = UnicodeAttribute(null=True)
    owner = UnicodeAttribute(null=True)
    chat_id = UnicodeAttribute(null=True)
    timezone = UnicodeAttribute(null=True)
    morning = UnicodeAttribute(null=True)
    evening = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    store = UnicodeAttribute(null=True)
    sales_rep = UnicodeAttribute(null=True)
    # Kept as written (ISO 8601 with the operator's offset), so reports show the time the operator gave.
    ends_at = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class _ContentItem(_Keyed):
    """What operators write for members to read: briefs, their own templates, flash groups' terms, events.

        pk                      sk                          item
        {tenant}#BRIEFS         {date}#{edition}            BriefItem: one edition of one date
        {tenant}#TEMPLATES      brief#{edition}#{dialect}   TemplateItem: the tenant's own template
        {tenant}#FLASH          {group_id}                  FlashItem: a flash group's terms, end and report
        {tenant}#EVENTS         {event_id}                  EventItem: an event and its reminder ladder
    """

    class Meta(_Meta):
        table_name = _settings.table("content")

    updated_at = UTCDateTimeAttribute()


class BriefItem(_ContentItem):
    class Meta(_ContentItem.Meta):
        pass

    brief = JSONAttribute()


class TemplateItem(_ContentItem):
    class Meta(_ContentItem.Meta):
        pass

    source = UnicodeAttribute()


class ContentDueIndex(GlobalSecondaryIndex):
    """Content with work due at a time, for the scheduled jobs (no Scan): flash groups by when they end, events
    by their next reminder rung. Sparse: only items with work left carry `due_pk` (`{kind}#{shard}`, see
    adapters/due.py); `due_sk` is `{UTC instant}#{tenant}#{id}`, so a job reads what is due up to now in order."""

    class Meta:
        index_name = "due"
        projection = AllProjection()

    due_pk = UnicodeAttribute(hash_key=True)
    due_sk = UnicodeAttribute(range_key=True)


class _DueContentItem(_ContentItem):
    due = ContentDueIndex()
    due_pk = UnicodeAttribute(null=True)
    due_sk = UnicodeAttribute(null=True)


class FlashItem(_DueContentItem):
    """A flash group's terms, its ending and its final figures. It carries due keys while it has work left:
    at `ends_at` while active, then a few minutes on each run until its farewell's record is final."""

    class Meta(_ContentItem.Meta):
        pass

    group_id = UnicodeAttribute()
    ends_at = UTCDateTimeAttribute()
    terms = JSONAttribute(null=True)  # domain/flash.py Terms; absent: the tenant's policy
    state = UnicodeAttribute(default="active")  # active | ended | dissolved
    farewell_date = UnicodeAttribute(null=True)  # the local date of its farewell's delivery record
    top = JSONAttribute(null=True)  # the members the invitation is addressed to [{rank, member_id, points}]
    owner_must_dismiss = UnicodeAttribute(null=True)  # a customer group's owner, who must dismiss it in WeCom
    report = JSONAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    dissolved_at = UTCDateTimeAttribute(null=True)


class EventItem(_DueContentItem):
    class Meta(_ContentItem.Meta):
        pass

    # The event as stored (domain/events.py StoredEvent); `version` guards against a move racing a fire.
    event = JSONAttribute(null=True)
    version = NumberAttribute(null=True)
