"""SendPushes: consumes the push queue, renders and delivers each push (a brief edition, a reminder rung, a
cancellation notice, a farewell), and reports the messages to retry as partial batch failures
(services/push_send.py states the delivery guarantee)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.push_queue import PushQueue
from qunyun.adapters.push_tally import TalliedClaims, TalliedDeliveries, Tally
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.push_messages import PushMessage, parse_push
from qunyun.services.push_job import RetryLater, claim_lease
from qunyun.services.push_send import send_message
from qunyun.services.send_deps import OnFirstUse, SendDeps
from qunyun.settings import get_settings

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
# The claim's lease follows the function's Timeout in template.yaml.
TIMEOUT_SECONDS = 60.0
# A message is started only with time left for one channel call that runs to its timeout and for its groups'
# writes (an owner's message covers up to 2,000 groups). One started later could be cut off by the function's
# Timeout between its channel call and its record, and its group would end `unknown_after_crash`; deferred, it
# is handed back to the queue at once and sent by the next invocation.
WRITE_SECONDS_PER_GROUP = 0.01


@dataclass(frozen=True)
class Deps:
    send: SendDeps
    queue: PushQueue  # asked to hold a message back (`retry_after`)
    # The queue's redrive policy moves a message to the dead-letter queue after this many receives; the last one
    # records the delivery failed instead of asking for another try.
    max_receives: int
    channel_timeout_seconds: float
    # The outcomes recorded in an invocation, published as the Pushes_* metrics the alarms watch (template.yaml).
    tally: Tally | None = None

    def time_needed(self, message: PushMessage) -> float:
        """Seconds a message may take: its channel call's timeout and its groups' writes."""
        return self.channel_timeout_seconds + WRITE_SECONDS_PER_GROUP * len(message.group_ids)


@functools.cache
def default_deps() -> Deps:
    """Built once per execution environment, so warm invocations reuse the channels' HTTP connections and
    cached WeCom tokens."""
    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.channels import channel
    from qunyun.channels.wecom_customer_group import WecomCustomerGroups

    settings = get_settings()
    tally = Tally()
    deliveries = TalliedDeliveries(tally)
    send = SendDeps(
        tenants=TenantRepository(), groups=GroupRepository(), content=ContentRepository(),
        deliveries=deliveries, ledger=OnFirstUse(PointsLedger), secrets=secret_store(),
        claims=TalliedClaims(claim_lease(TIMEOUT_SECONDS), deliveries, tally),
        channel=functools.cache(channel),  # one sender per channel, made on first use (each holds an HTTP client)
        customer_groups=functools.cache(WecomCustomerGroups),
        clock=lambda: datetime.now(UTC),
    )
    return Deps(send, PushQueue(settings.push_queue_url), settings.push_max_receives,
                settings.channel_timeout_seconds, tally)


def _messages(event: dict) -> dict[tuple[str, str], PushMessage]:
    """The batch's messages whose bodies parse, by message id and body, in order: read ahead for, then handled;
    the others fail on their own in `handle`."""
    messages = {}
    for record in event.get("Records") or []:
        try:
            messages[(record["messageId"], record["body"])] = parse_push(record["body"])
        except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
            continue
    return messages


def process(event: dict, context: LambdaContext | None = None, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    send, queue = deps.send.for_batch(), deps.queue
    messages = _messages(event)
    send.batch.ahead.note(messages.values())

    def handle(record: SQSRecord) -> None:
        final = int(record.attributes.approximate_receive_count or 1) >= deps.max_receives
        message = messages.get((record.message_id, record.body)) or parse_push(record.body)
        # The last receive tries whatever the time: deferring it would move it to the dead-letter queue unrecorded.
        if not final and context is not None and \
                context.get_remaining_time_in_millis() / 1000 < deps.time_needed(message):
            queue.retry_after(record.receipt_handle, 0)
            metrics.add_metric(name="SendPushes_deferred", unit=MetricUnit.Count, value=1)
            raise RetryLater(0, "too little time left in this invocation to start the message")
        try:
            send_message(message, deps=send, final=final)
        except RetryLater as e:
            # Honour the platform's retry-after: SQS hands the message back no earlier than that.
            if e.seconds:
                queue.retry_after(record.receipt_handle, e.seconds)
            metrics.add_metric(name="SendPushes_retry", unit=MetricUnit.Count, value=1)
            logger.info("push to retry", extra={"message_id": record.message_id, "reason": str(e)})
            raise

    try:
        with send.batch.outcomes.written():  # sent pushes' outcomes are written together (services/outcome_pages.py)
            return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    finally:
        for name, value in (deps.tally.drain() if deps.tally else {}).items():
            metrics.add_metric(name=f"Pushes_{name}", unit=MetricUnit.Count, value=value)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
