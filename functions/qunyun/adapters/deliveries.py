"""The deliveries repository: a group's day (its daily cap and its delivery records), WeCom quota counters, and
the tasks awaiting a WeCom owner, on the deliveries table (layout: adapters/deliveries_tables.py). It implements
the ports of services/delivery_ports.py; each part lives in the module of its idea (group_days, delivery_records,
quota_counters, awaiting_owner), and the keys, stored maps and PartiQL batches they share in delivery_keys,
delivery_maps and delivery_statements."""

from __future__ import annotations

from qunyun.adapters.awaiting_owner import AwaitingOwner
from qunyun.adapters.delivery_keys import (
    AWAITING_SHARDS,
    DAY_SHARDS,
    PAGE_SK,
    awaiting_keys,
    day_key,
    group_pk,
    page_entry,
    page_pk,
    quota_sk,
    quota_token,
    waiting_pk,
)
from qunyun.adapters.delivery_maps import (
    CLAIM,
    CLAIMED_AT,
    PARTS_SENT,
    STATUS,
    decode,
    encode,
    from_micros,
    micros,
    outcome_actions,
    outcome_fields,
    record_field,
)
from qunyun.adapters.delivery_records import DeliveryRecords
from qunyun.adapters.delivery_statements import STATEMENTS_PER_REQUEST, execute_statements, outcome_statement
from qunyun.adapters.group_days import GroupDay
from qunyun.adapters.quota_counters import QuotaCounters

# Names the senders and the tests import from here.
__all__ = ["AWAITING_SHARDS", "CLAIM", "CLAIMED_AT", "DAY_SHARDS", "PAGE_SK", "PARTS_SENT", "STATEMENTS_PER_REQUEST",
           "STATUS", "DeliveryRepository", "GroupDay", "awaiting_keys", "day_key", "decode", "encode",
           "execute_statements", "from_micros", "group_pk", "micros", "outcome_actions", "outcome_fields",
           "outcome_statement", "page_entry", "page_pk", "quota_sk", "quota_token", "record_field", "waiting_pk"]


class DeliveryRepository(DeliveryRecords, QuotaCounters, AwaitingOwner):
    """Groups' days and records (GroupDays, DeliveryRecords), their quota (QuotaCounters) and the tasks awaiting
    their owners (AwaitingOwner), on the deliveries table."""
