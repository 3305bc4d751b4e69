"""PageEarnings: reads the points table's stream and pages each program day's earning entries and redemptions
(services/earning_pages.py). A batch that fails is delivered again and writes the same pages."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.earning_pages import EarningPages, listed
from qunyun.services.earning_pages import page_batch

logger = Logger()
metrics = Metrics()
store = EarningPages()


def process(event: dict, context: LambdaContext | None = None) -> dict:
    summary = page_batch(event.get("Records") or [], listed, store)
    metrics.add_metric(name="EntriesPaged", unit=MetricUnit.Count, value=summary["entries"])
    logger.info("paged", extra=summary)
    return summary


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
