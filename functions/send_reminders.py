"""SendReminders: every 5 minutes, queues the event reminder rungs due by the scheduled time (found through
the content table's due index), one message per group or per WeCom owner, for SendPushes to deliver, and
the cancellation notices of events cancelled with --notify (services/events.py states the guarantees)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.events import EventRepository
from qunyun.adapters.push_queue import PushQueue
from qunyun.adapters.tenants import TenantRepository
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.events import send_reminders

logger = Logger()
metrics = Metrics()


def process(event: dict, context: LambdaContext | None = None, deps: dict | None = None) -> dict:
    now = scheduled_now(event)
    deps = {"events": EventRepository(), "tenants": TenantRepository(), "deliveries": DeliveryRepository(),
            **(deps or {})}
    if "queue" not in deps:  # built only when needed: it makes an SQS client
        deps["queue"] = PushQueue(os.environ["PUSH_QUEUE_URL"])
    summary = send_reminders(now, **deps)
    return report_run(logger, metrics, "SendReminders", "reminders queued", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
