"""PageEarnings: reads the points table's stream and pages each program day's earning entries and redemptions, the
lots that fall due, by their hour, and each tenant's new members (services/earning_pages.py). A batch that fails
is delivered again and writes the same pages."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.due_pages import DuePages, due_line
from qunyun.adapters.earning_pages import EarningPages, listed
from qunyun.adapters.member_pages import MemberPages, member_line
from qunyun.services.earning_pages import page_batch

logger = Logger()
metrics = Metrics()
store, due_store, member_store = EarningPages(), DuePages(), MemberPages()


def process(event: dict, context: LambdaContext | None = None) -> dict:
    records = event.get("Records") or []
    entries, due = page_batch(records, listed, store), page_batch(records, due_line, due_store)
    members = page_batch(records, member_line, member_store)
    summary = {**entries, "lots": due["entries"], "members": members["entries"],
               "pages": entries["pages"] + due["pages"] + members["pages"]}
    metrics.add_metric(name="EntriesPaged", unit=MetricUnit.Count, value=summary["entries"])
    metrics.add_metric(name="DueLotsPaged", unit=MetricUnit.Count, value=summary["lots"])
    metrics.add_metric(name="MembersPaged", unit=MetricUnit.Count, value=summary["members"])
    logger.info("paged", extra=summary)
    return summary


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
