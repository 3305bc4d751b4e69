"""GuardOffences: consumes the guard's queue (FIFO, a chat's messages in order): the messages ProcessGroupEvents
found matching a group rule, each recorded as an offence with its evidence and acted on (services/guard.py:
deleted, warned, removed or made an operator task); a chat whose guard could not finish comes back as partial
batch failures, and a retried batch never acts twice."""

from __future__ import annotations

import functools

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.batches import group_events, partial_failures
from qunyun.domain.group_events import Message
from qunyun.services.guard import GuardDeps, guard_messages
from qunyun.services.guard_deps import guard_deps, tenant_timezones

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


class NotGuarded(Exception):
    pass


@functools.cache
def default_deps() -> GuardDeps:
    """Built once per execution environment: the rules' matchers, the chats and the platform clients stay warm."""
    from qunyun.adapters.chats import ChatDirectory
    from qunyun.adapters.tenants import TenantRepository

    return guard_deps(ChatDirectory(), tenant_timezones(TenantRepository().get))


def process(event: dict, context: LambdaContext | None = None, deps: GuardDeps | None = None) -> dict:
    parsed, unreadable = group_events(event)
    messages = [(key, e) for key, e in parsed if isinstance(e, Message)]
    # Not a message event: nothing the guard judges; after its receives, the dead letters show it.
    unreadable |= {key for key, _ in parsed} - {key for key, _ in messages}
    for key in unreadable:
        logger.error("not a message event on the guard's queue", extra={"message_id": key})
    failed = guard_messages(messages, deps or default_deps()) | unreadable
    metrics.add_metric(name="GuardedMessages", unit=MetricUnit.Count, value=len(messages))
    return partial_failures(event, failed, processor, context, NotGuarded)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
