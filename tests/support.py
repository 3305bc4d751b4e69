"""Helpers for tests: documented event payloads, signed requests and a fake LambdaContext."""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl

FIXTURES = Path(__file__).parent / "fixtures"
STACK = "qunyun-test"


def http_event(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> dict:
    """An API Gateway HTTP API (payload 2.0) event, built from the documented sample payload."""
    event = copy.deepcopy(json.loads((FIXTURES / "events" / "http_api_v2.json").read_text()))
    raw_path, _, query = path.partition("?")
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    event["rawQueryString"] = query
    event.pop("queryStringParameters", None)
    if query:
        params: dict[str, list[str]] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            params.setdefault(key, []).append(value)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
    event.pop("pathParameters", None)
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {raw_path}"
    event["headers"].update({k.lower(): v for k, v in (headers or {}).items()})
    try:
        event["body"] = body.decode() if body else None
    except UnicodeDecodeError:  # API Gateway hands over bytes that are not text as base64
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    return event


def signed_event(tenant_id: str, secret: str, method: str, path: str, body: bytes = b"",
                 timestamp: int | None = None) -> dict:
    from qunyun.domain import signing

    ts = int(time.time()) if timestamp is None else timestamp
    return http_event(method, path, body, signing.headers(tenant_id, secret, ts, method, path, body))


class FakeContext:
    """The parts of LambdaContext that Powertools reads."""

    function_name = "qunyun-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:qunyun-test"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/qunyun-test"
    log_stream_name = "2026/11/25/[$LATEST]abc"

    def __init__(self, remaining_ms: int = 60_000):  # a fresh invocation of a 60-second function
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms




def _value_bytes(value: dict) -> int:
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode()) for x in v)
    if kind == "NS":
        return sum(_value_bytes({"N": x}) for x in v)
    if kind == "BS":
        return sum(len(x) for x in v)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_bytes(x) for k, x in v.items())
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def item_bytes(item: dict) -> int:
    """An item's size as DynamoDB bills it (DynamoDB JSON, as a low-level client returns it): each attribute's
    name and value, a number by its significant digits, 3 bytes a list or map and 1 an element of one."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def write_units(item: dict) -> int:
    """The write units of a write that leaves `item` as it is (and found it no larger): one per started KB."""
    return max(1, -(-item_bytes(item) // 1024))


def count_items(client, table: str, tenant_id: str) -> int:
    resp = client.query(TableName=f"{STACK}-{table}", KeyConditionExpression="tenant_id = :t",
                        ExpressionAttributeValues={":t": {"S": tenant_id}}, Select="COUNT")
    return resp["Count"]


def leaf_models() -> list:
    """Every PynamoDB model of a table defined so far that no other model extends. Leaf models only: a base
    class's connection, once made, is inherited by subclasses that have none yet, with the base's schema (no
    indexes)."""
    from pynamodb.models import Model

    def models(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from models(sub)

    found = {m for m in models(Model)
             if getattr(getattr(m, "Meta", None), "table_name", None) and not m.__subclasses__()}
    return sorted(found, key=lambda m: (m.__module__, m.__name__))


def dynamodb_clients(extra=()) -> list:
    """Every botocore DynamoDB client the code path can use: each PynamoDB model's and the repositories' own."""
    seen, out = set(), []
    for m in leaf_models():
        client = m._get_connection().connection.client
        if id(client) not in seen:
            seen.add(id(client))
            out.append(client)
    for client in extra:
        if id(client) not in seen:
            seen.add(id(client))
            out.append(client)
    return out


class DynamoCalls:
    """Counts DynamoDB calls as "Operation:table" (the table without the stack's prefix) on the given clients,
    while in its `with` block."""

    def __init__(self, clients) -> None:
        from collections import Counter

        self.clients, self.calls = clients, Counter()

    def _count(self, params, model, **_) -> None:
        tables = [params["TableName"]] if "TableName" in params else sorted(params.get("RequestItems") or [])
        if model.name == "TransactWriteItems":
            tables = sorted({next(iter(i.values()))["TableName"] for i in params["TransactItems"]})
        if model.name == "BatchExecuteStatement":  # PartiQL: the table is the statement's first quoted name
            tables = sorted({s["Statement"].split('"')[1] for s in params["Statements"]})
        self.calls[f"{model.name}:{','.join(t.removeprefix(STACK + '-') for t in tables)}"] += 1

    def __enter__(self) -> DynamoCalls:
        for client in self.clients:
            client.meta.events.register("provide-client-params.dynamodb", self._count)
        return self

    def __exit__(self, *exc) -> None:
        for client in self.clients:
            client.meta.events.unregister("provide-client-params.dynamodb", self._count)
