"""MallApi: redemptions, cancellations, orders and rewards of the points mall (API.md §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.mall import CancelRequest, RedemptionRequest
from qunyun.services.mall import Answer, cancel, get_order, list_rewards, redeem
from qunyun.web import current_tenant, invalid_request, new_api, raw_body

logger = Logger()
metrics = Metrics()
app = new_api()
ledger = PointsLedger()


def _body(model: type[BaseModel]):
    try:
        data = json.loads(raw_body(app) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body is not valid JSON.", field="body") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise invalid_request(err) from None


def _answer(answer: Answer) -> Response:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(status_code=answer.status, content_type=content_types.APPLICATION_JSON, body=answer.body,
                    headers=headers)


@app.post("/v1/mall/redemptions")
def post_redemption():
    request = _body(RedemptionRequest)
    answer = redeem(current_tenant(app), request, ledger=ledger, now=datetime.now(UTC))
    if not answer.replayed:
        metrics.add_metric(name="Redemptions" if answer.status == 201 else "RedemptionsRefused",
                           unit=MetricUnit.Count, value=1)
    return _answer(answer)


@app.post("/v1/mall/redemptions/<order_id>/cancel")
def post_cancel(order_id: str):
    request = _body(CancelRequest)
    answer = cancel(current_tenant(app), order_id, request, ledger=ledger, now=datetime.now(UTC))
    if not answer.replayed:
        metrics.add_metric(name="RedemptionsCancelled", unit=MetricUnit.Count, value=1)
    return _answer(answer)


@app.get("/v1/mall/redemptions/<order_id>")
def get_redemption(order_id: str):
    return get_order(current_tenant(app), order_id, ledger=ledger)


@app.get("/v1/mall/rewards")
def get_rewards():
    return {"rewards": list_rewards(current_tenant(app), ledger=ledger, now=datetime.now(UTC))}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
