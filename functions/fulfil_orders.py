"""FulfilOrders: every minute, POSTs the owed placed/cancelled notices of mall orders to their rewards'
fulfilment URLs; retries with backoff and parks an order with the reason after the last try."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.jobs import report_run, scheduled_now
from qunyun.services.fulfil import deliver_due

logger = Logger()
metrics = Metrics()


def process(event: dict, post=None) -> dict:
    now = scheduled_now(event)
    kwargs = {"post": post} if post else {}
    summary = deliver_due(now, ledger=PointsLedger(), tenants=TenantRepository(), secrets=secret_store(), **kwargs)
    return report_run(logger, metrics, "Fulfilment", "fulfilment pass finished", event, summary)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event)
