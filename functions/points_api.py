"""PointsApi: points events, member balances and entries, leaderboards (API.md §2)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.domain.errors import InvalidRequest, QunyunError
from qunyun.domain.events import EventBatch, PointsEvent
from qunyun.services.boards import leaderboard
from qunyun.services.members import entries_page, member_view
from qunyun.services.points import apply_event
from qunyun.web import current_tenant, invalid_request, new_api, raw_body

logger = Logger()
metrics = Metrics()
app = new_api()
ledger = PointsLedger()


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_events() -> tuple[list[PointsEvent], bool]:
    try:
        body = json.loads(raw_body(app) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body is not valid JSON.", field="body") from None
    if not isinstance(body, dict):
        raise InvalidRequest("Send one event object, or {\"events\": [...]} with 1 to 100 events.", field="body")
    try:
        if "events" in body:
            return EventBatch.model_validate(body).events, True
        return [PointsEvent.model_validate(body)], False
    except ValidationError as err:
        raise invalid_request(err) from None


@app.post("/v1/points/events")
def post_events():
    events, batch = _parse_events()
    tenant = current_tenant(app)
    if not batch:
        result = apply_event(tenant, events[0], ledger=ledger, now=_now())
        metrics.add_metric(name="PointsEvents", unit=MetricUnit.Count, value=1)
        return result
    results = []
    for event in events:
        try:
            results.append(apply_event(tenant, event, ledger=ledger, now=_now()))
        except QunyunError as err:
            # One event's business failure (stale, conflict, unknown order) does not stop the others.
            results.append({"event_id": event.event_id, "status": "rejected", **err.body()})
    metrics.add_metric(name="PointsEvents", unit=MetricUnit.Count, value=len(events))
    return {"results": results}


def _int_param(name: str, default: int) -> int:
    raw = app.current_event.get_query_string_value(name, str(default))
    if not raw.isdigit():
        raise InvalidRequest(f"{name} must be a whole number.", field=name)
    return int(raw)


@app.get("/v1/members/<member_id>")
def get_member(member_id: str):
    return member_view(current_tenant(app).tenant_id, member_id, ledger=ledger, now=_now())


@app.get("/v1/members/<member_id>/entries")
def get_entries(member_id: str):
    limit = _int_param("limit", 50)
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be between 1 and 100.", field="limit")
    cursor = app.current_event.get_query_string_value("cursor", None)
    return entries_page(current_tenant(app).tenant_id, member_id, limit, cursor, ledger=ledger)


@app.get("/v1/leaderboards")
def get_leaderboard():
    tenant = current_tenant(app)
    raw_date = app.current_event.get_query_string_value("date", None)
    try:
        day = date.fromisoformat(raw_date) if raw_date else _now().astimezone(ZoneInfo(tenant.timezone)).date()
    except ValueError:
        raise InvalidRequest("date must be YYYY-MM-DD.", field="date") from None
    scope = app.current_event.get_query_string_value("scope", "tenant")
    period = app.current_event.get_query_string_value("period", "day")
    return leaderboard(tenant.tenant_id, scope, period, day, _int_param("limit", 100), ledger=ledger, now=_now())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
