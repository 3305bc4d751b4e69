"""SettlePoints: hourly; releases pending points, expires lots, builds boards at 02:00 in each tenant's zone."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.services.settle import settle

logger = Logger()
metrics = Metrics()


def process(event: dict, ledger: PointsLedger | None = None, tenants: TenantRepository | None = None) -> dict:
    # "now" is the scheduled time, never the wall clock: a retried or late run does the same work.
    now = datetime.fromisoformat(event["scheduled_time"].replace("Z", "+00:00"))
    summary = settle(now, ledger=ledger or PointsLedger(), tenants=tenants or TenantRepository())
    logger.info("settlement finished", extra={"scheduled_time": event["scheduled_time"], **summary})
    for name, value in summary.items():
        if name != "repeated":
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return summary


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event)
