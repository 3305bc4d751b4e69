"""The webhook front door shared by every HTTP function: signature check, body limit, error format.

Every request to every function is verified by `resolve_signed` before routing or body validation
(API.md §1), so an unsigned request learns nothing, not even whether its body was well formed. Tenant
identity comes from the signature, never from the body; routes read it with `current_tenant(app)`, and
the handler's deps (built once per execution environment) with `current_deps(app)`.
Routes declare their inputs with pydantic models, which Powertools validates and turns into the
OpenAPI document (`GET /v1/openapi.json`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit

from qunyun.adapters.secrets import SecretStore, secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain import signing
from qunyun.domain.errors import InvalidRequest, PayloadTooLarge, QunyunError, Unauthorized
from qunyun.domain.tenants import Tenant
from qunyun.settings import Settings, get_settings

logger = Logger(child=True)
metrics = Metrics()  # shares the metric set of the handler module's Metrics
# Union members that pydantic names in an error's location; not fields a caller wrote.
_TAGS = {"single", "batch", "body", "query", "path", "header"}


def raw_body(event: dict) -> bytes:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode()
    try:
        return base64.b64decode(body)
    except (binascii.Error, ValueError):
        raise InvalidRequest("The body is not valid base64.", field="body") from None


def signed_paths(event: dict) -> list[str]:
    """The path_and_query a caller may have signed. HTTP API hands over rawPath percent-decoded while the
    query string stays as sent, so a path with characters a client must encode is tried both ways."""
    query = event.get("rawQueryString") or ""
    suffix = f"?{query}" if query else ""
    path = event.get("rawPath", "")
    # Clients differ on which sub-delimiters they escape: accept the strict and the lenient encoding.
    forms = [path, quote(path, safe="/-._~"), quote(path, safe="/:@!$&'()*+,;=-._~")]
    return [f + suffix for f in dict.fromkeys(forms)]


def invalid_request(errors: list[dict]) -> InvalidRequest:
    """A 400 naming the first bad field (and listing up to 20), without echoing the caller's values."""
    problems = []
    for e in errors[:20]:
        field = ".".join(str(p) for p in e.get("loc", ()) if str(p) not in _TAGS) or "body"
        message = str(e.get("msg", e.get("type", "invalid"))).removeprefix("Value error, ")
        problems.append({"field": field, "message": message})
    if not problems:
        problems = [{"field": "body", "message": "the request does not match the API"}]
    first = problems[0]
    return InvalidRequest(f"{first['field']}: {first['message']}", field=first["field"], errors=problems)


def _headers(event: dict) -> dict[str, str]:
    return {k.lower(): v for k, v in (event.get("headers") or {}).items()}


class Verifier:
    """Checks API.md §1 signatures; the tenant lookup, secret store and clock are injectable for tests."""

    CACHED_TENANTS = 1024  # an environment serving more tenants than this starts its cache afresh

    def __init__(self, tenants: TenantRepository | None = None, secrets: SecretStore | None = None,
                 settings: Settings | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.settings = settings or get_settings()
        self.tenants = tenants or TenantRepository()
        self.secrets = secrets or secret_store(self.settings)
        self.clock, self.monotonic = clock, monotonic
        self._tenants: dict[str, tuple[float, Tenant]] = {}

    def _tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant, read at most once per `tenant_cache_seconds` in this environment. An unknown tenant is
        not remembered, so a tenant created a moment ago is served at once."""
        now, ttl = self.monotonic(), self.settings.tenant_cache_seconds
        hit = self._tenants.get(tenant_id)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        tenant = self.tenants.get(tenant_id)
        if tenant is None or ttl <= 0:
            self._tenants.pop(tenant_id, None)
            return tenant
        if len(self._tenants) >= self.CACHED_TENANTS:
            self._tenants.clear()
        self._tenants[tenant_id] = (now, tenant)
        return tenant

    def verify(self, event: dict) -> Tenant:
        body = raw_body(event)
        if len(body) > self.settings.max_body_bytes:
            raise PayloadTooLarge(f"The body is {len(body)} bytes; the limit is {self.settings.max_body_bytes} bytes.")
        headers = _headers(event)
        tenant_id = headers.get("x-qunyun-tenant")
        timestamp = headers.get("x-qunyun-timestamp")
        signature = headers.get("x-qunyun-signature")
        if not (tenant_id and timestamp and signature):
            raise Unauthorized(
                "Sign every request with the headers X-Qunyun-Tenant, X-Qunyun-Timestamp and X-Qunyun-Signature.",
                code="signature_missing",
            )
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > self.settings.signature_window_seconds:
            raise Unauthorized(
                f"X-Qunyun-Timestamp must be the current Unix time in seconds, within "
                f"{self.settings.signature_window_seconds} s of the server's clock.",
                code="timestamp_out_of_window",
            )
        tenant = self._tenant(tenant_id) if len(tenant_id) <= 64 else None
        secret = self.secrets.get(tenant.secret_ref) if tenant else None
        method = event.get("requestContext", {}).get("http", {}).get("method", "")
        # An unknown tenant fails exactly like a wrong signature, revealing nothing.
        if not secret or not any(
            signing.matches(secret, signature, timestamp, method, p, body) for p in signed_paths(event)
        ):
            raise Unauthorized("The signature does not match this request.", code="signature_invalid")
        return tenant


def proxy_error(err: QunyunError) -> dict:
    """An error as the HTTP API proxy response, for failures before the resolver runs."""
    return {"statusCode": err.status, "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps(err.body(), ensure_ascii=False), "isBase64Encoded": False}


def resolve_signed(app: APIGatewayHttpResolver, verifier: Verifier, event: dict, context: Any,
                   deps: Any = None) -> dict:
    """Verifies the signature, then routes; the tenant and the handler's deps are in `app.context`."""
    try:
        tenant = verifier.verify(event)
        try:
            raw_body(event).decode("utf-8")
        except UnicodeDecodeError:  # every route takes JSON; Powertools would fail on such bytes
            raise InvalidRequest("The body is not UTF-8 encoded JSON.", field="body") from None
    except QunyunError as err:
        logger.info("request rejected", extra={"code": err.code})
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        return proxy_error(err)
    app.append_context(tenant=tenant, deps=deps)
    return app.resolve(event, context)


def current_tenant(app: APIGatewayHttpResolver) -> Tenant:
    return app.context["tenant"]


def current_deps(app: APIGatewayHttpResolver) -> Any:
    """The deps `process` handed to `resolve_signed` (or `resolve_with`) for this request."""
    return app.context["deps"]


def resolve_with(app: APIGatewayHttpResolver, event: dict, context: Any, deps: Any) -> dict:
    """Routes an unsigned request with the handler's deps in `app.context`."""
    app.append_context(deps=deps)
    return app.resolve(event, context)


def error_response(err: QunyunError, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=err.status, content_type=content_types.APPLICATION_JSON, body=err.body(),
                    headers=headers)


def new_api(**kwargs: Any) -> APIGatewayHttpResolver:
    """An HTTP API resolver with request validation and the error format of API.md §1."""
    app = APIGatewayHttpResolver(enable_validation=True, **kwargs)

    @app.exception_handler(QunyunError)
    def _domain_error(err: QunyunError) -> Response:
        if err.status < 500:
            metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    def _invalid(err: RequestValidationError) -> Response:
        errors = list(err.errors())
        if any(e.get("loc", ("",))[0] == "response" for e in errors):
            # Our answer broke its own declared shape: our fault, never the caller's.
            logger.error("response failed validation", extra={"errors": [e.get("type") for e in errors]})
            return error_response(QunyunError("Something went wrong on our side; retry later.",
                                              code="internal_error", status=500))
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        return error_response(invalid_request(errors))

    @app.not_found
    def _no_route(_: NotFoundError) -> Response:
        return error_response(QunyunError("No such route.", code="not_found", status=404))

    @app.exception_handler(Exception)
    def _unexpected(err: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(QunyunError("Something went wrong on our side; retry later.", code="internal_error",
                                          status=500))

    return app
