"""TenantApi: GET /v1/tenant lets a caller check its credentials (API.md §1)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel
from qunyun.settings import get_settings
from qunyun.web import Verifier, current_tenant, new_api, resolve_signed

logger = Logger()
metrics = Metrics()
router = APIGatewayHttpRouter()


@dataclass(frozen=True)
class Deps:
    verifier: Verifier


@cache
def default_deps() -> Deps:
    """Built once per execution environment."""
    return Deps(verifier=Verifier(settings=get_settings()))


class TenantView(BaseModel):
    tenant_id: str
    name: str
    timezone: str


@router.get("/v1/tenant", summary="Who am I: the tenant the signature belongs to", tags=["tenant"])
def get_tenant() -> TenantView:
    metrics.add_metric(name="CredentialChecks", unit=MetricUnit.Count, value=1)
    return TenantView(**current_tenant(router).public())


app = new_api()
app.include_router(router)


def process(event: dict, context: LambdaContext, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    return resolve_signed(app, deps.verifier, event, context, deps)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
