"""MallApi: redemptions, cancellations, orders and rewards of the points mall (API.md §3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.domain.mall import CancelRequest, RedemptionRequest
from qunyun.services.ledger_ports import MallUnitOfWork
from qunyun.services.mall import Answer, cancel, get_order, list_rewards, redeem
from qunyun.settings import get_settings
from qunyun.web import Verifier, current_deps, current_tenant, new_api, resolve_signed

logger = Logger()
metrics = Metrics()
router = APIGatewayHttpRouter()
OrderId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", description="The order_id a redemption returned.")]


@dataclass(frozen=True)
class Deps:
    ledger: MallUnitOfWork
    verifier: Verifier


@cache
def default_deps() -> Deps:
    """Built once per execution environment."""
    return Deps(ledger=PointsLedger(), verifier=Verifier(settings=get_settings()))


def _ledger() -> MallUnitOfWork:
    return current_deps(router).ledger


REPLAYED = {"Idempotent-Replayed": {"description": "true when this is the stored answer to an earlier request",
                                    "schema": {"type": "string"}}}


def _answer(answer: Answer) -> Response[dict]:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(status_code=answer.status, content_type=content_types.APPLICATION_JSON, body=answer.body,
                    headers=headers)


@router.post("/v1/mall/redemptions", summary="Redeem a reward with points, once per request_id", tags=["mall"],
             responses={201: {"description": "placed (or its replay)", "headers": REPLAYED},
                        409: {"description": "request_id used with other parameters"},
                        422: {"description": "refused: insufficient_points, out_of_stock, limit_exceeded, "
                                             "member_blocked, member_in_debt, reward_unavailable, unknown_member, "
                                             "unknown_reward (replayed as such)"}})
def post_redemption(request: Annotated[RedemptionRequest, Body()]) -> Response[dict]:
    answer = redeem(current_tenant(router), request, ledger=_ledger(), now=datetime.now(UTC))
    if not answer.replayed:
        metrics.add_metric(name="Redemptions" if answer.status == 201 else "RedemptionsRefused",
                           unit=MetricUnit.Count, value=1)
    return _answer(answer)


@router.post("/v1/mall/redemptions/<order_id>/cancel", summary="Cancel a redemption once", tags=["mall"],
             responses={200: {"description": "cancelled (or its replay)", "headers": REPLAYED},
                        404: {"description": "unknown_order"}})
def post_cancel(order_id: OrderId, request: Annotated[CancelRequest, Body()]) -> Response[dict]:
    answer = cancel(current_tenant(router), order_id, request, ledger=_ledger(), now=datetime.now(UTC))
    if not answer.replayed:
        metrics.add_metric(name="RedemptionsCancelled", unit=MetricUnit.Count, value=1)
    return _answer(answer)


@router.get("/v1/mall/redemptions/<order_id>", summary="One redemption", tags=["mall"])
def get_redemption(order_id: OrderId) -> dict:
    return get_order(current_tenant(router), order_id, ledger=_ledger())


@router.get("/v1/mall/rewards", summary="The tenant's rewards with stock left", tags=["mall"])
def get_rewards() -> dict:
    return {"rewards": list_rewards(current_tenant(router), ledger=_ledger(), now=datetime.now(UTC))}


app = new_api()
app.include_router(router)


def process(event: dict, context: LambdaContext, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    return resolve_signed(app, deps.verifier, event, context, deps)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
