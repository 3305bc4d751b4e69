"""GuardOffences: consumes the guard's queue (FIFO, a chat's messages in order): the messages ProcessGroupEvents
found matching a group rule, each recorded as an offence with its evidence and acted on (services/guard.py:
deleted, warned, removed or made an operator task); a chat whose guard could not finish comes back as partial
batch failures, and a retried batch never acts twice."""

from __future__ import annotations

import functools

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.domain.group_events import GROUP_EVENT, Message
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
    parsed, unreadable = [], set()
    for record in event.get("Records") or []:
        try:
            message = GROUP_EVENT.validate_json(record["body"])
        except (KeyError, TypeError, ValueError):
            message = None
        if isinstance(message, Message):
            parsed.append((record["messageId"], message))
        else:  # not a message event: nothing the guard judges; after its receives, the dead letters show it
            logger.error("not a message event on the guard's queue", extra={"message_id": record.get("messageId")})
            unreadable.add(record.get("messageId"))
    failed = guard_messages(parsed, deps or default_deps()) | unreadable
    metrics.add_metric(name="GuardedMessages", unit=MetricUnit.Count, value=len(parsed))

    def handle(record: SQSRecord) -> None:
        if record.message_id in failed:
            raise NotGuarded(record.message_id)

    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
