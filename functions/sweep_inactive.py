"""SweepInactive: weekly, each tenant's groups' silent members listed (or, in mode remove, removed after the
tenant's notice) per the group rules' sweep (services/sweep.py says how; a rerun of the week changes nothing)."""

from __future__ import annotations

import functools

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.sweep import SweepDeps, sweep_all

logger = Logger()
metrics = Metrics()


@functools.cache
def default_deps() -> SweepDeps:
    """Built once per execution environment: the guard's rules, log and platform client, as ProcessGroupEvents'
    (services/guard_deps.py)."""
    from qunyun.adapters.chats import ChatDirectory
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.sweep_reads import SweepReads
    from qunyun.adapters.sweep_runs import SweepRuns
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.domain.tenants import DEFAULT_TIMEZONE
    from qunyun.services.guard_deps import guard_deps

    tenants = TenantRepository()

    @functools.lru_cache(maxsize=1024)
    def timezone(tenant_id: str) -> str:
        tenant = tenants.get(tenant_id)
        return tenant.timezone if tenant else DEFAULT_TIMEZONE

    reads = SweepReads()  # rosters and activity pages raw: no item model per roster entry
    return SweepDeps(tenants=tenants.ids, timezone=timezone, groups=GroupRepository(), roster=reads, activity=reads,
                     runs=SweepRuns(), guard=guard_deps(ChatDirectory(), timezone))


def process(event: dict, context: LambdaContext | None = None, deps: SweepDeps | None = None) -> dict:
    summary = sweep_all(scheduled_now(event), deps or default_deps())
    return report_run(logger, metrics, "Sweep", "groups swept", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
