"""BriefDispatch: every 5 minutes, queues one message per group whose morning or evening brief is due now in
its own timezone (or was missed within the grace period), and records the groups it skips."""

from __future__ import annotations

import functools
from dataclasses import dataclass

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
from qunyun.settings import get_settings

logger = Logger()
metrics = Metrics()


@dataclass(frozen=True)
class Deps:
    groups: GroupRepository
    tenants: TenantRepository
    content: ContentRepository
    deliveries: DeliveryRepository
    queue: PushQueue
    checkpoint: DispatchCheckpoint


@functools.cache
def default_deps() -> Deps:
    """Built once per execution environment (the queue's SQS client is made on its first send)."""
    return Deps(GroupRepository(), TenantRepository(), ContentRepository(), DeliveryRepository(),
                PushQueue(get_settings().push_queue_url), DispatchCheckpoint())


def process(event: dict, context: LambdaContext | None = None, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    summary = dispatch(scheduled_now(event), groups=deps.groups, tenants=deps.tenants, content=deps.content,
                       deliveries=deps.deliveries, queue=deps.queue, checkpoint=deps.checkpoint)
    return report_run(logger, metrics, "BriefDispatch", "briefs dispatched", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
