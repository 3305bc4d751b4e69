"""The webhook front door shared by every HTTP function: signature check, body limit, error format.

Every route of every function goes through `verify_request` (API.md §1), so tenant identity comes from
the signature and never from the body; handlers read it with `current_tenant(app)`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from qunyun.adapters.secrets import SecretStore, secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain import signing
from qunyun.domain.errors import InvalidRequest, PayloadTooLarge, QunyunError, Unauthorized
from qunyun.domain.tenants import Tenant
from qunyun.settings import Settings, get_settings

logger = Logger(child=True)
metrics = Metrics()  # shares the metric set of the handler module's Metrics


def raw_body(app: APIGatewayHttpResolver) -> bytes:
    event = app.current_event
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def signed_paths(app: APIGatewayHttpResolver) -> list[str]:
    """The path_and_query a caller may have signed. HTTP API hands over rawPath percent-decoded while the
    query string stays as sent, so a path with characters a client must encode is tried both ways."""
    event = app.current_event
    query = event.get("rawQueryString") or ""
    suffix = f"?{query}" if query else ""
    path = event.get("rawPath", "")
    encoded = quote(path, safe="/:@!$&'()*+,;=-._~")
    return [path + suffix] if encoded == path else [path + suffix, encoded + suffix]


def invalid_request(err: ValidationError) -> InvalidRequest:
    """A 400 naming the first bad field (and listing up to 20), without echoing the caller's values."""
    problems = []
    for e in err.errors()[:20]:
        field = ".".join(str(p) for p in e["loc"]) or "body"
        problems.append({"field": field, "message": e["msg"].removeprefix("Value error, ")})
    first = problems[0]
    return InvalidRequest(f"{first['field']}: {first['message']}", field=first["field"], errors=problems)


def error_response(err: QunyunError, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=err.status, content_type=content_types.APPLICATION_JSON, body=err.body(),
                    headers=headers)


class Verifier:
    """Checks API.md §1 signatures; the tenant lookup and secret store are injectable for tests."""

    def __init__(self, tenants: TenantRepository | None = None, secrets: SecretStore | None = None,
                 settings: Settings | None = None, clock: Callable[[], float] = time.time):
        self.settings = settings or get_settings()
        self.tenants = tenants or TenantRepository()
        self.secrets = secrets or secret_store(self.settings)
        self.clock = clock
        self.__name__ = "verify_request"  # Powertools names middlewares in its debug trail

    def __call__(self, app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
        body = raw_body(app)
        if len(body) > self.settings.max_body_bytes:
            raise PayloadTooLarge(f"The body is {len(body)} bytes; the limit is {self.settings.max_body_bytes} bytes.")
        event = app.current_event
        tenant_id = event.headers.get("x-qunyun-tenant")
        timestamp = event.headers.get("x-qunyun-timestamp")
        signature = event.headers.get("x-qunyun-signature")
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
        tenant = self.tenants.get(tenant_id) if len(tenant_id) <= 64 else None
        secret = self.secrets.get(tenant.secret_ref) if tenant else None
        method = event.get("requestContext", {}).get("http", {}).get("method", "")
        # An unknown tenant fails exactly like a wrong signature, revealing nothing.
        if not secret or not any(
            signing.matches(secret, signature, timestamp, method, p, body) for p in signed_paths(app)
        ):
            raise Unauthorized("The signature does not match this request.", code="signature_invalid")
        app.append_context(tenant=tenant)
        return next_middleware(app)


def current_tenant(app: APIGatewayHttpResolver) -> Tenant:
    return app.context["tenant"]


def new_api(verifier: Callable[..., Response] | None = None, **kwargs: Any) -> APIGatewayHttpResolver:
    """An HTTP API resolver with the signed-request layer and the error format of API.md §1."""
    app = APIGatewayHttpResolver(**kwargs)
    app.use(middlewares=[verifier or Verifier()])

    @app.exception_handler(QunyunError)
    def _domain_error(err: QunyunError) -> Response:
        if err.status == 401:
            logger.info("request rejected", extra={"code": err.code})
        if err.status < 500:
            metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        return error_response(err)

    @app.not_found
    def _no_route(_: NotFoundError) -> Response:
        return error_response(QunyunError("No such route.", code="not_found", status=404))

    @app.exception_handler(Exception)
    def _unexpected(err: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(QunyunError("Something went wrong on our side; retry later.", code="internal_error",
                                          status=500))

    return app
