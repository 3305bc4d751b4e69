"""What every scheduled function shares: "now" from the scheduler, and its summary as a log line and metrics."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit


def scheduled_now(event: dict) -> datetime:
    """The time the scheduler sent (`<aws.scheduler.scheduled-time>`), never the wall clock: a retried or late run
    does what the first one would."""
    return datetime.fromisoformat(event["scheduled_time"].replace("Z", "+00:00"))


def report_run(logger: Logger, metrics: Metrics, prefix: str, message: str, event: dict, summary: dict) -> dict:
    """Logs a run's summary with its scheduled time and emits each count as the metric `{prefix}_{name}`."""
    logger.info(message, extra={"scheduled_time": event["scheduled_time"], **summary})
    for name, value in summary.items():
        metrics.add_metric(name=f"{prefix}_{name}", unit=MetricUnit.Count, value=value)
    return summary
