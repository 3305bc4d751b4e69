"""FollowUpOwnerTasks: every 15 minutes, reads what WeCom customer-group owners confirmed of their mass-send
tasks, reminds those who have not, and cancels the tasks gone stale (services/owner_tasks.py says how)."""

from __future__ import annotations

import dataclasses
import functools

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.owner_tasks import OwnerTaskLog
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.owner_tasks import FollowUpDeps, follow_up

logger = Logger()
metrics = Metrics()


@functools.cache
def default_deps() -> FollowUpDeps:
    """Built once per execution environment, so warm invocations reuse the HTTP connection and WeCom tokens."""
    from qunyun.channels.wecom_customer_group import WecomCustomerGroups

    return FollowUpDeps(tenants=TenantRepository(), groups=GroupRepository(), deliveries=DeliveryRepository(),
                        log=OwnerTaskLog(), secrets=secret_store(),
                        customer_groups=functools.cache(WecomCustomerGroups))


def process(event: dict, context: LambdaContext | None = None, deps: FollowUpDeps | None = None) -> dict:
    now = scheduled_now(event)
    deps = deps or default_deps()
    if context is not None:
        deps = dataclasses.replace(deps, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    summary = follow_up(now, deps=deps)
    problems = summary.pop("problems")
    for problem in problems:
        logger.warning("WeCom refused a follow-up call", extra={"problem": problem})
    return report_run(logger, metrics, "FollowUp", "owner tasks followed up", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
