"""ExpireFlashGroups: every 5 minutes, ends the flash groups whose `ends_at` has passed (found through the
content table's `due` index) with one farewell each, and dissolves them once the farewell's record is final
(qunyun/services/flash.py says how a rerun or a crash still sends one farewell per group)."""

from __future__ import annotations

import os
from datetime import datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.brief_queue import BriefQueue
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.flash import FlashRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.services.flash import ExpireDeps, expire

logger = Logger()
metrics = Metrics()


def process(event: dict, context: LambdaContext | None = None, deps: dict | None = None) -> dict:
    # "now" is the scheduled time, never the wall clock: a retried or late run ends the same groups.
    now = datetime.fromisoformat(event["scheduled_time"].replace("Z", "+00:00"))
    deps = {"flash": FlashRepository(), "groups": GroupRepository(), "tenants": TenantRepository(),
            "deliveries": DeliveryRepository(), "ledger": PointsLedger(), **(deps or {})}
    if "queue" not in deps:  # built only when needed: it makes an SQS client
        deps["queue"] = BriefQueue(os.environ["BRIEF_QUEUE_URL"])
    summary = expire(now, ExpireDeps(**deps))
    logger.info("flash groups expired", extra={"scheduled_time": event["scheduled_time"], **summary})
    for name, value in summary.items():
        metrics.add_metric(name=f"ExpireFlashGroups_{name}", unit=MetricUnit.Count, value=value)
    return summary


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
