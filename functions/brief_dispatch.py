"""BriefDispatch: every 5 minutes, queues one message per group whose morning or evening brief is due now in
its own timezone (or was missed within the grace period), and records the groups it skips."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.dispatch_checkpoint import DispatchCheckpoint
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.push_queue import PushQueue
from qunyun.adapters.tenants import TenantRepository
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.brief_dispatch import dispatch

logger = Logger()
metrics = Metrics()


def process(event: dict, context: LambdaContext | None = None, deps: dict | None = None) -> dict:
    now = scheduled_now(event)
    deps = {"groups": GroupRepository(), "tenants": TenantRepository(), "content": ContentRepository(),
            "deliveries": DeliveryRepository(), "checkpoint": DispatchCheckpoint(), **(deps or {})}
    if "queue" not in deps:  # built only when needed: it makes an SQS client
        deps["queue"] = PushQueue(os.environ["PUSH_QUEUE_URL"])
    summary = dispatch(now, **deps)
    return report_run(logger, metrics, "BriefDispatch", "briefs dispatched", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
