"""TenantApi: GET /v1/tenant lets a caller check its credentials (API.md §1)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.web import current_tenant, new_api

logger = Logger()
metrics = Metrics()
app = new_api()


@app.get("/v1/tenant")
def get_tenant() -> dict:
    metrics.add_metric(name="CredentialChecks", unit=MetricUnit.Count, value=1)
    return current_tenant(app).public()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
