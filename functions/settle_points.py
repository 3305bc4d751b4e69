"""SettlePoints: hourly; releases pending points, expires lots, builds boards at 02:00 in each tenant's zone."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.jobs import scheduled_now
from qunyun.services.ledger_ports import JobUnitOfWork
from qunyun.services.settle import settle

logger = Logger()
metrics = Metrics()


@dataclass(frozen=True)
class Deps:
    ledger: JobUnitOfWork
    tenants: TenantRepository


@cache
def default_deps() -> Deps:
    """Built once per execution environment."""
    return Deps(ledger=PointsLedger(), tenants=TenantRepository())


def process(event: dict, context: LambdaContext | None = None, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    # "now" is the scheduled time, never the wall clock: a retried or late run does the same work.
    summary = settle(scheduled_now(event), ledger=deps.ledger, tenants=deps.tenants)
    logger.info("settlement finished", extra={"scheduled_time": event["scheduled_time"], **summary})
    for name, value in summary.items():
        if name != "repeated":
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return summary


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
