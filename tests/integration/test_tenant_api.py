"""GET /v1/tenant and the signed-request layer every route shares (API.md §1)."""

from __future__ import annotations

import json
import time

import pytest
import tenant_api
from support import http_event, signed_event


def call(event, context) -> tuple[int, dict, dict]:
    resp = tenant_api.lambda_handler(event, context)
    return resp["statusCode"], json.loads(resp["body"]), resp.get("headers") or {}


def test_correctly_signed_request_returns_the_tenant(tenant, context):
    # GIVEN a tenant and a request signed with its secret
    event = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant")
    # WHEN the handler resolves it
    status, body, _ = call(event, context)
    # THEN the caller sees who it is, and nothing secret
    assert status == 200
    assert body == {"tenant_id": tenant.tenant_id, "name": "Test Tea Shop", "timezone": "Asia/Shanghai"}


def test_query_string_is_part_of_the_signature(tenant, context):
    ok = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant?x=1")
    assert call(ok, context)[0] == 200
    # the same signature presented for another query string is rejected
    tampered = dict(ok, rawQueryString="x=2")
    status, body, _ = call(tampered, context)
    assert (status, body["error"]["code"]) == (401, "signature_invalid")


@pytest.mark.parametrize(
    "mutate, code",
    [
        (lambda e: e["headers"].pop("x-qunyun-signature"), "signature_missing"),
        (lambda e: e["headers"].pop("x-qunyun-tenant"), "signature_missing"),
        (lambda e: e["headers"].pop("x-qunyun-timestamp"), "signature_missing"),
        (lambda e: e["headers"].update({"x-qunyun-signature": "sha256=" + "0" * 64}), "signature_invalid"),
        (lambda e: e["headers"].update({"x-qunyun-signature": "garbage"}), "signature_invalid"),
        (lambda e: e["headers"].update({"x-qunyun-tenant": "nobody-here"}), "signature_invalid"),
        (lambda e: e["headers"].update({"x-qunyun-tenant": "x" * 5000}), "signature_invalid"),
        (lambda e: e["headers"].update({"x-qunyun-timestamp": "12ab"}), "timestamp_out_of_window"),
        (lambda e: e["requestContext"]["http"].update({"method": "POST"}), "signature_invalid"),
    ],
    ids=["no-signature", "no-tenant", "no-timestamp", "wrong-hmac", "malformed", "unknown-tenant",
         "huge-tenant-header", "non-numeric-timestamp", "method-changed"],
)
def test_bad_signatures_answer_401_with_their_code(tenant, context, mutate, code):
    event = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant")
    mutate(event)
    status, body, _ = call(event, context)
    assert status == 401
    assert body["error"]["code"] == code
    assert body["error"]["message"]


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_timestamps_outside_five_minutes_are_rejected(tenant, context, skew):
    event = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant", timestamp=int(time.time()) + skew)
    status, body, _ = call(event, context)
    assert (status, body["error"]["code"]) == (401, "timestamp_out_of_window")


def test_edge_of_the_window_is_accepted(tenant, context):
    event = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant", timestamp=int(time.time()) - 290)
    assert call(event, context)[0] == 200


def test_another_tenants_secret_never_opens_this_tenant(make_tenant, context):
    # GIVEN two tenants
    a, b = make_tenant(), make_tenant(timezone="Europe/Berlin")
    # WHEN a request names tenant A but is signed with B's secret
    event = signed_event(a.tenant_id, b.secret, "GET", "/v1/tenant")
    status, body, _ = call(event, context)
    # THEN it is rejected exactly like a wrong signature
    assert (status, body["error"]["code"]) == (401, "signature_invalid")
    # and B's own request sees only B
    status, body, _ = call(signed_event(b.tenant_id, b.secret, "GET", "/v1/tenant"), context)
    assert (status, body["tenant_id"], body["timezone"]) == (200, b.tenant_id, "Europe/Berlin")


def test_body_over_64_kb_answers_413(tenant, context):
    body = b"x" * (64 * 1024 + 1)
    event = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant", body)
    status, payload, _ = call(event, context)
    assert (status, payload["error"]["code"]) == (413, "payload_too_large")


def test_unsigned_request_to_unknown_route_is_still_401(context):
    status, body, _ = call(http_event("GET", "/v1/nothing"), context)
    assert (status, body["error"]["code"]) == (401, "signature_missing")


def test_signed_request_to_unknown_route_is_404_in_the_error_format(tenant, context):
    status, body, _ = call(signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/nothing"), context)
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_base64_bodies_are_verified_on_their_raw_bytes(tenant, context):
    import base64

    raw = '{"note": "积分"}'.encode()  # API Gateway hands some content types over base64-encoded
    event = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant", b"")
    from qunyun.domain import signing

    event["headers"].update({k.lower(): v for k, v in signing.headers(
        tenant.tenant_id, tenant.secret, int(time.time()), "GET", "/v1/tenant", raw).items()})
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    assert call(event, context)[0] == 200


def test_a_path_signed_percent_encoded_matches_the_decoded_raw_path(tenant, context):
    # GIVEN a client that signed the encoded path it sent; API Gateway delivers rawPath decoded
    from qunyun.domain import signing

    event = http_event("GET", "/v1/tenant", b"", signing.headers(
        tenant.tenant_id, tenant.secret, int(time.time()), "GET", "/v1/ten%20ant"))
    event["rawPath"] = "/v1/ten ant"
    # THEN the signature is accepted (and the unknown route answers 404, after the signature check)
    status, body, _ = call(event, context)
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_signed_bytes_that_are_not_utf8_json_answer_400(tenant, context):
    import base64

    from qunyun.domain import signing

    raw = bytes(range(256))
    event = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant", b"")
    event["headers"].update({k.lower(): v for k, v in signing.headers(
        tenant.tenant_id, tenant.secret, int(time.time()), "GET", "/v1/tenant", raw).items()})
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    status, body, _ = call(event, context)
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "invalid_request", "body")


class CountingTenants:
    """The tenant repository, counting its reads."""

    def __init__(self):
        from qunyun.adapters.tenants import TenantRepository

        self.real, self.reads = TenantRepository(), 0

    def get(self, tenant_id):
        self.reads += 1
        return self.real.get(tenant_id)


def test_an_environment_reads_its_tenant_once_per_cache_period(tenant):
    from qunyun.settings import get_settings
    from qunyun.web import Verifier

    # GIVEN a verifier with a 5-second tenant cache and a clock the test moves
    tenants, clock = CountingTenants(), [100.0]
    settings = get_settings().model_copy(update={"tenant_cache_seconds": 5})
    verifier = Verifier(tenants=tenants, settings=settings, monotonic=lambda: clock[0])

    def verify() -> str:
        return verifier.verify(signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant")).tenant_id

    # WHEN three requests arrive within 5 seconds, THEN the tenant is read once
    assert [verify() for _ in range(3)] == [tenant.tenant_id] * 3
    assert tenants.reads == 1
    # WHEN the period has passed, THEN it is read again
    clock[0] += 5
    verify()
    assert tenants.reads == 2
    # AND an unknown tenant is looked up every time (a tenant created a moment later is served at once)
    for _ in range(2):
        with pytest.raises(Exception, match="signature does not match"):
            verifier.verify(signed_event("not-yet", tenant.secret, "GET", "/v1/tenant"))
    assert tenants.reads == 4
    # AND with the cache switched off every request reads the tenant
    verifier.settings = settings.model_copy(update={"tenant_cache_seconds": 0})
    verify()
    verify()
    assert tenants.reads == 6


def test_building_the_openapi_document_leaves_each_route_its_own_app(tenant, context):
    # GIVEN the OpenAPI document built in the same process (it reads every router's routes)
    import api_docs

    assert "/v1/tenant" in api_docs.document()
    # WHEN a signed request reaches the tenant route THEN it still sees the tenant its app verified
    event = signed_event(tenant.tenant_id, tenant.secret, "GET", "/v1/tenant")
    assert call(event, context)[0] == 200
