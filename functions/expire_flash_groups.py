"""ExpireFlashGroups: every 5 minutes, ends the flash groups whose `ends_at` has passed (found through the
content table's `due` index) with one farewell each, and dissolves them once the farewell's record is final
(qunyun/services/flash.py says how a rerun or a crash still sends one farewell per group)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.flash import FlashRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.push_queue import PushQueue
from qunyun.adapters.tenants import TenantRepository
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.flash import ExpireDeps, expire
from qunyun.settings import get_settings

logger = Logger()
metrics = Metrics()


@dataclass(frozen=True)
class Deps:
    flash: FlashRepository
    groups: GroupRepository
    tenants: TenantRepository
    deliveries: DeliveryRepository
    ledger: PointsLedger
    queue: PushQueue


@functools.cache
def default_deps() -> Deps:
    """Built once per execution environment (the queue's SQS client is made on its first send)."""
    return Deps(FlashRepository(), GroupRepository(), TenantRepository(), DeliveryRepository(), PointsLedger(),
                PushQueue(get_settings().push_queue_url))


def process(event: dict, context: LambdaContext | None = None, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    summary = expire(scheduled_now(event), ExpireDeps(flash=deps.flash, groups=deps.groups, tenants=deps.tenants,
                                                      deliveries=deps.deliveries, ledger=deps.ledger,
                                                      queue=deps.queue))
    return report_run(logger, metrics, "ExpireFlashGroups", "flash groups expired", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
