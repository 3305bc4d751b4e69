"""MetricsApi: GET /v1/metrics, a scope's figures by day and in total (API.md §8, docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.metrics_store import MetricsStore
from qunyun.domain.metrics import default_range
from qunyun.services.metrics import MetricsReads, metrics_report
from qunyun.settings import get_settings
from qunyun.web import Verifier, current_deps, current_tenant, new_api, resolve_signed

logger = Logger()
metrics = Metrics()
router = APIGatewayHttpRouter()


@dataclass(frozen=True)
class Deps:
    verifier: Verifier
    reads: MetricsReads


@cache
def default_deps() -> Deps:
    """Built once per execution environment."""
    return Deps(verifier=Verifier(settings=get_settings()), reads=MetricsStore())


@router.get("/v1/metrics", summary="A scope's figures by day and in total: members, joins, leaves, activity, "
            "check-ins, points, redemptions, buyers, pushes", tags=["metrics"])
def get_metrics(
    scope: Annotated[str, Query(max_length=210, description="tenant, group:ID, store:ID, rep:ID or kind:KIND")
                     ] = "tenant",
    start: Annotated[date | None, Query(alias="from", description="first day (default: 30 days before to)")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (default: yesterday); at most 400 days")
                   ] = None,
) -> dict:
    tenant = current_tenant(router)
    today = datetime.now(UTC).astimezone(ZoneInfo(tenant.timezone)).date()
    first, last = default_range(start, end, today)
    metrics.add_metric(name="MetricsReads", unit=MetricUnit.Count, value=1)
    return metrics_report(current_deps(router).reads, tenant.tenant_id, scope, first, last)


app = new_api()
app.include_router(router)


def process(event: dict, context: LambdaContext, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    return resolve_signed(app, deps.verifier, event, context, deps)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
