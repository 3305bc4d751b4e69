"""FulfilOrders: every minute, POSTs the owed placed/cancelled notices of mall orders to their rewards'
fulfilment URLs; retries with backoff and parks an order with the reason after the last try."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import SecretStore, secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.fulfil import Post, deliver_due, http_post
from qunyun.services.ledger_ports import MallUnitOfWork
from qunyun.settings import get_settings

logger = Logger()
metrics = Metrics()


@dataclass(frozen=True)
class Deps:
    ledger: MallUnitOfWork
    tenants: TenantRepository
    secrets: SecretStore
    post: Post = http_post


@cache
def default_deps() -> Deps:
    """Built once per execution environment."""
    return Deps(ledger=PointsLedger(), tenants=TenantRepository(), secrets=secret_store(get_settings()))


def process(event: dict, context: LambdaContext | None = None, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    summary = deliver_due(scheduled_now(event), ledger=deps.ledger, tenants=deps.tenants, secrets=deps.secrets,
                          post=deps.post)
    return report_run(logger, metrics, "Fulfilment", "fulfilment pass finished", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
