"""ExpireFlashGroups: every 5 minutes, ends the flash groups whose `ends_at` has passed (found through the
content table's `due` index) with one farewell each, and dissolves them once the farewell's record is final
(qunyun/services/flash.py says how a rerun or a crash still sends one farewell per group)."""

from __future__ import annotations

import os

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

logger = Logger()
metrics = Metrics()


def process(event: dict, context: LambdaContext | None = None, deps: dict | None = None) -> dict:
    now = scheduled_now(event)
    deps = {"flash": FlashRepository(), "groups": GroupRepository(), "tenants": TenantRepository(),
            "deliveries": DeliveryRepository(), "ledger": PointsLedger(), **(deps or {})}
    if "queue" not in deps:  # built only when needed: it makes an SQS client
        deps["queue"] = PushQueue(os.environ["PUSH_QUEUE_URL"])
    summary = expire(now, ExpireDeps(**deps))
    return report_run(logger, metrics, "ExpireFlashGroups", "flash groups expired", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
