"""RollupMetrics: hourly, each tenant's ended local days closed into its groups' and scopes' figures
(services/metrics_rollup.py says how; docs/metrics.md defines each figure)."""

from __future__ import annotations

import functools

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.metrics_rollup import RollupDeps, rollup

logger = Logger()
metrics = Metrics()


@functools.cache
def default_deps() -> RollupDeps:
    """Built once per execution environment."""
    from qunyun.adapters import metrics_sources
    from qunyun.adapters.activity import ActivityStore
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.metrics_store import MetricsStore
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.adapters.wecom_statistics import WecomStatistics
    from qunyun.settings import get_settings

    return RollupDeps(tenants=TenantRepository(), groups=GroupRepository(), roster=metrics_sources.RosterReads(),
                      activity=ActivityStore(), sources=metrics_sources,
                      statistics=WecomStatistics(secret_store(), get_settings().wecom_base_url), store=MetricsStore())


def process(event: dict, context: LambdaContext | None = None, deps: RollupDeps | None = None) -> dict:
    summary = rollup(scheduled_now(event), deps or default_deps())
    return report_run(logger, metrics, "Rollup", "days closed", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
