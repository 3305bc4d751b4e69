"""ApiDocs: GET /v1/openapi.json, the webhook API's OpenAPI document, generated from the routes' code.

It is the one unsigned route: it describes the API and holds no tenant's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import mall_api
import metrics_api
import points_api
import tenant_api
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.web import current_deps, new_api, resolve_with

logger = Logger()
metrics = Metrics()
SIGNED = {name: APIKey(name=f"X-Qunyun-{name}", **{"in": APIKeyIn.header},
                       description=desc) for name, desc in {
    "Tenant": "The tenant id.",
    "Timestamp": "Unix time in seconds, within 300 s of the server's clock.",
    "Signature": 'sha256= + hex HMAC-SHA256(webhook secret, "{timestamp}.{METHOD}.{path_and_query}.{raw_body}")',
}.items()}

spec = new_api()
for module in (tenant_api, points_api, mall_api, metrics_api):
    own = module.router.api_resolver
    spec.include_router(module.router)
    # Including a router makes the spec its resolver (its request context); the spec only reads the routes,
    # so each router goes back to the app that serves it, or a process holding both would lose the tenant.
    module.router.api_resolver = own


def document() -> str:
    return spec.get_openapi_json_schema(
        title="qunyun webhook API", version="1", summary="Signed webhooks for points and the points mall (API.md).",
        security_schemes=SIGNED, security=[{name: [] for name in SIGNED}],
    )


@dataclass(frozen=True)
class Deps:
    document: str


@cache
def default_deps() -> Deps:
    """Built once per execution environment: the document is the same for every request."""
    return Deps(document=document())


docs = new_api()


@docs.get("/v1/openapi.json", include_in_schema=False)
def get_openapi():  # no return annotation: the document is served as built, not re-validated
    metrics.add_metric(name="DocsServed", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=current_deps(docs).document)


def process(event: dict, context: LambdaContext, deps: Deps | None = None) -> dict:
    return resolve_with(docs, event, context, deps or default_deps())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
