"""SendReminders: every 5 minutes, queues the event reminder rungs due by the scheduled time (found through
the content table's due index), one message per group or per WeCom owner, for SendPushes to deliver, and
the cancellation notices of events cancelled with --notify (services/events.py states the guarantees)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.events import EventRepository
from qunyun.adapters.push_queue import PushQueue
from qunyun.adapters.tenants import TenantRepository
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.events import send_reminders
from qunyun.settings import get_settings

logger = Logger()
metrics = Metrics()


@dataclass(frozen=True)
class Deps:
    events: EventRepository
    tenants: TenantRepository
    deliveries: DeliveryRepository
    queue: PushQueue


@functools.cache
def default_deps() -> Deps:
    """Built once per execution environment (the queue's SQS client is made on its first send)."""
    return Deps(EventRepository(), TenantRepository(), DeliveryRepository(), PushQueue(get_settings().push_queue_url))


def process(event: dict, context: LambdaContext | None = None, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    summary = send_reminders(scheduled_now(event), events=deps.events, tenants=deps.tenants,
                             deliveries=deps.deliveries, queue=deps.queue)
    return report_run(logger, metrics, "SendReminders", "reminders queued", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
