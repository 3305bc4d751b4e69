"""InboundApi: GET|POST /v1/inbound/{platform}/{tenant}, the platforms' callbacks (services/inbound.py)."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.inbound.dispatch import Callback
from qunyun.services.inbound import Answer, InboundDeps, receive, refusal
from qunyun.settings import get_settings

logger = Logger()
metrics = Metrics()


@functools.cache
def default_deps() -> InboundDeps:
    """Built once per execution environment: the connection cache lives as long as the environment."""
    from qunyun.adapters.connections import ConnectionStore
    from qunyun.adapters.credentials import CachedCredentials
    from qunyun.adapters.group_event_queue import GroupEventQueue
    from qunyun.adapters.secrets import secret_store

    settings = get_settings()
    connections = ConnectionStore()
    return InboundDeps(
        credentials=CachedCredentials(connections, secret_store(settings), settings.connection_cache_seconds),
        queue=GroupEventQueue(settings.group_event_queue_url or ""), refusals=connections, clock=time.time,
        max_body_bytes=settings.max_body_bytes)


def _proxy(answer: Answer) -> dict:
    if isinstance(answer.body, dict):
        body, content_type = json.dumps(answer.body, ensure_ascii=False), "application/json"
    else:
        body, content_type = answer.body, "text/plain; charset=utf-8"
    return {"statusCode": answer.status, "headers": {"Content-Type": content_type}, "body": body,
            "isBase64Encoded": False}


def _callback(event: dict) -> Callback | None:
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
    except (binascii.Error, ValueError):
        return None
    return Callback(method=event.get("requestContext", {}).get("http", {}).get("method", "POST").upper(),
                    headers={k.lower(): v for k, v in (event.get("headers") or {}).items()},
                    query=dict(parse_qsl(event.get("rawQueryString") or "", keep_blank_values=True)), body=raw)


def process(event: dict, context: LambdaContext | None = None, deps: InboundDeps | None = None) -> dict:
    params = event.get("pathParameters") or {}
    platform, tenant_id = params.get("platform", ""), params.get("tenant", "")
    callback = _callback(event)
    if callback is None:
        answer = refusal("unparsable", "The body is not valid base64.", 400)
    else:
        answer = receive(platform, tenant_id, callback, deps or default_deps())
    if answer.status != 200:
        code = answer.body["error"]["code"] if isinstance(answer.body, dict) else ""
        logger.info("callback refused", extra={"platform": platform, "status": answer.status, "code": code})
        metrics.add_metric(name="CallbacksRefused", unit=MetricUnit.Count, value=1)
    return _proxy(answer)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
