"""PointsApi: points events, member balances and entries, leaderboards (API.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.domain.errors import QunyunError
from qunyun.domain.events import ID, EventBatch, EventsBody
from qunyun.services.boards import leaderboard
from qunyun.services.group_gate import EndedGroups
from qunyun.services.ledger_ports import BoardsUnitOfWork
from qunyun.services.members import entries_page, member_view
from qunyun.services.points import apply_event, reads_of
from qunyun.settings import get_settings
from qunyun.web import Verifier, current_deps, current_tenant, new_api, resolve_signed

logger = Logger()
metrics = Metrics()
router = APIGatewayHttpRouter()


@dataclass(frozen=True)
class Deps:
    ledger: BoardsUnitOfWork
    verifier: Verifier
    ended: EndedGroups  # flash groups' ends, cached per execution environment


@cache
def default_deps() -> Deps:
    """Built once per execution environment."""
    return Deps(ledger=PointsLedger(), verifier=Verifier(settings=get_settings()), ended=EndedGroups())


MemberId = Annotated[str, Path(pattern=ID, description="The member's id in the tenant's systems.")]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/v1/points/events", summary="Record points events (check-in, quiz, purchase, refund, invite)",
             tags=["points"])
def post_events(body: Annotated[EventsBody, Body()]) -> dict:
    tenant, deps = current_tenant(router), current_deps(router)
    ledger, ended = deps.ledger, deps.ended
    if not isinstance(body.root, EventBatch):
        ended.check(tenant, body.root, _now())
        result = apply_event(tenant, body.root, ledger=ledger, now=_now())
        metrics.add_metric(name="PointsEvents", unit=MetricUnit.Count, value=1)
        return result
    results = []
    # The batch's reads go out 100 keys to a BatchGetItem rather than one BatchGetItem per event, eventually
    # consistently: each event's first plan is made as from its own first read (services/points.py apply_event).
    with ledger.ahead([key for event in body.root.events for key in reads_of(tenant, event)], consistent=False):
        for event in body.root.events:
            try:
                ended.check(tenant, event, _now())
                results.append(apply_event(tenant, event, ledger=ledger, now=_now()))
            except QunyunError as err:
                # One event's business failure (stale, conflict, unknown order) does not stop the others.
                results.append({"event_id": event.event_id, "status": "rejected", **err.body()})
    metrics.add_metric(name="PointsEvents", unit=MetricUnit.Count, value=len(results))
    return {"results": results}


@router.get("/v1/members/<member_id>", summary="A member's balance, streak and soon-expiring points",
            tags=["points"])
def get_member(member_id: MemberId) -> dict:
    return member_view(current_tenant(router).tenant_id, member_id, ledger=current_deps(router).ledger, now=_now())


@router.get("/v1/members/<member_id>/entries", summary="A member's ledger entries, newest first", tags=["points"])
def get_entries(member_id: MemberId, limit: Annotated[int, Query(ge=1, le=100)] = 50,
                cursor: Annotated[str | None, Query(max_length=2048)] = None) -> dict:
    return entries_page(current_tenant(router).tenant_id, member_id, limit, cursor,
                        ledger=current_deps(router).ledger)


@router.get("/v1/leaderboards", summary="Members ranked on points earned in a day, week or month",
            tags=["points"])
def get_leaderboard(
    scope: Annotated[str, Query(pattern=r"^(tenant|group:[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127})$")] = "tenant",
    period: Annotated[Literal["day", "week", "month"], Query()] = "day",
    on: Annotated[date | None, Query(alias="date")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict:
    tenant = current_tenant(router)
    day = on or _now().astimezone(ZoneInfo(tenant.timezone)).date()
    return leaderboard(tenant.tenant_id, scope, period, day, limit, ledger=current_deps(router).ledger, now=_now())


app = new_api()
app.include_router(router)


def process(event: dict, context: LambdaContext, deps: Deps | None = None) -> dict:
    deps = deps or default_deps()
    return resolve_signed(app, deps.verifier, event, context, deps)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
