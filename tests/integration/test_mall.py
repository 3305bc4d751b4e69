"""The points mall through the real handler: replay, conflicts, each refusal, cancel, isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import mall_api
import pytest
from points_support import CountingLedger
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.mall import Reward
from qunyun.services.adjust import adjust, reconcile_member
from qunyun.services.mall import add_rewards
from support import signed_event

NOW = datetime.now(UTC)


def call(tenant, method, path, body=None, context=None):
    raw = json.dumps(body).encode() if body is not None else b""
    resp = mall_api.lambda_handler(signed_event(tenant.tenant_id, tenant.secret, method, path, raw), context)
    return resp["statusCode"], json.loads(resp["body"]), resp.get("headers") or {}


def stock_up(tenant, *rewards: dict):
    t = TenantRepository().get(tenant.tenant_id)
    add_rewards(t, [Reward(**r) for r in rewards], ledger=PointsLedger(), now=NOW)


def give(tenant, member: str, points: int):
    adjust(TenantRepository().get(tenant.tenant_id), member, points, "test grant", ledger=PointsLedger(), now=NOW)


def redeem(tenant, context, request_id, member="u1", reward="mug", quantity=1):
    return call(tenant, "POST", "/v1/mall/redemptions",
                {"request_id": request_id, "member_id": member, "reward_id": reward, "quantity": quantity}, context)


@pytest.fixture
def shop(tenant):
    stock_up(tenant, {"id": "mug", "name": "Logo mug", "cost": 100, "stock": 10, "limit_per_member": 2,
                      "limit_period": "month"})
    give(tenant, "u1", 1000)
    return tenant


def test_redeem_then_replay_the_same_answer(shop, context):
    status, body, headers = redeem(shop, context, "r-1")
    assert status == 201 and body["status"] == "placed" and body["points_spent"] == 100
    assert body["balance"]["available"] == 900 and body["balance"]["spent"] == 100
    again_status, again, again_headers = redeem(shop, context, "r-1")
    assert (again_status, again, again_headers.get("Idempotent-Replayed")) == (201, body, "true")
    assert "Idempotent-Replayed" not in headers
    _, order, _ = call(shop, "GET", f"/v1/mall/redemptions/{body['order_id']}", context=context)
    assert (order["status"], order["quantity"], order["member_id"]) == ("placed", 1, "u1")


def test_same_request_id_with_other_parameters_is_409(shop, context):
    redeem(shop, context, "r-1")
    status, body, _ = redeem(shop, context, "r-1", quantity=2)
    assert (status, body["error"]["code"]) == (409, "idempotency_conflict")


def test_each_refusal_has_its_code_and_is_replayed_as_a_failure(shop, context):
    stock_up(shop, {"id": "later", "name": "Later", "cost": 1, "stock": 5,
                    "active_from": (NOW + timedelta(days=1)).isoformat()},
             {"id": "gone", "name": "Gone", "cost": 1, "stock": 0},
             {"id": "gold", "name": "Gold", "cost": 5000, "stock": 5})
    give(shop, "poor", 10)
    give(shop, "debtor", 10)
    adjust(TenantRepository().get(shop.tenant_id), "debtor", -20, "clawback", ledger=PointsLedger(), now=NOW)
    cases = [
        (dict(request_id="f1", reward="gold"), "insufficient_points"),
        (dict(request_id="f2", reward="gone"), "out_of_stock"),
        (dict(request_id="f3", reward="later"), "reward_unavailable"),
        (dict(request_id="f4", reward="nope"), "unknown_reward"),
        (dict(request_id="f5", member="ghost"), "unknown_member"),
        (dict(request_id="f6", member="debtor"), "member_in_debt"),
        (dict(request_id="f7", quantity=3), "limit_exceeded"),
    ]
    for kwargs, code in cases:
        status, body, _ = redeem(shop, context, **kwargs)
        assert (status, body["error"]["code"]) == (422, code), kwargs
        # a retry must not turn a recorded failure into a success, even once the cause is gone
        if code == "insufficient_points":
            give(shop, "u1", 10_000)
        again_status, again, headers = redeem(shop, context, **kwargs)
        assert (again_status, again, headers.get("Idempotent-Replayed")) == (422, body, "true")


@pytest.mark.parametrize("body, field", [
    ({"member_id": "u1", "reward_id": "mug", "quantity": 1}, "request_id"),
    ({"request_id": "x", "member_id": "u1", "reward_id": "mug", "quantity": 0}, "quantity"),
    ({"request_id": "x", "member_id": "u1", "reward_id": "mug", "quantity": "1"}, "quantity"),
    ({"request_id": "x", "member_id": "u1", "reward_id": "mug", "quantity": 1, "price": 0}, "price"),
    ({"request_id": "x y", "member_id": "u1", "reward_id": "mug"}, "request_id"),
])
def test_malformed_requests_answer_400_and_write_nothing(shop, context, body, field):
    status, answer, _ = call(shop, "POST", "/v1/mall/redemptions", body, context)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, "invalid_request", field)
    _, rewards, _ = call(shop, "GET", "/v1/mall/rewards", context=context)
    assert rewards["rewards"][0]["stock"] == 10


def test_cancel_restores_points_stock_and_limit_once(shop, context):
    _, placed, _ = redeem(shop, context, "r-1", quantity=2)
    oid = placed["order_id"]
    status, body, _ = call(shop, "POST", f"/v1/mall/redemptions/{oid}/cancel", {"request_id": "c-1",
                                                                                "reason": "changed mind"}, context)
    assert (status, body) == (200, {"order_id": oid, "status": "cancelled", "points_restored": 200,
                                    "points_forfeited": 0})
    status, again, headers = call(shop, "POST", f"/v1/mall/redemptions/{oid}/cancel",
                                  {"request_id": "c-2", "reason": "again"}, context)
    assert (status, again, headers.get("Idempotent-Replayed")) == (200, body, "true")
    _, rewards, _ = call(shop, "GET", "/v1/mall/rewards", context=context)
    assert rewards["rewards"][0]["stock"] == 10
    # the monthly limit of 2 is free again
    assert redeem(shop, context, "r-2", quantity=2)[0] == 201
    assert reconcile_member(shop.tenant_id, "u1", ledger=PointsLedger()) == []


def test_cancel_unknown_order_is_404(shop, context):
    status, body, _ = call(shop, "POST", "/v1/mall/redemptions/ord_nope/cancel", {"request_id": "c", "reason": "x"},
                           context)
    assert (status, body["error"]["code"]) == (404, "unknown_order")


def test_another_tenant_sees_nothing(make_tenant, context):
    a, b = make_tenant(), make_tenant()
    stock_up(a, {"id": "mug", "name": "Logo mug", "cost": 100, "stock": 10})
    give(a, "u1", 500)
    _, placed, _ = redeem(a, context, "r-1")
    assert call(b, "GET", f"/v1/mall/redemptions/{placed['order_id']}", context=context)[0] == 404
    assert call(b, "POST", f"/v1/mall/redemptions/{placed['order_id']}/cancel",
                {"request_id": "c", "reason": "x"}, context)[0] == 404
    assert call(b, "GET", "/v1/mall/rewards", context=context)[1] == {"rewards": []}
    status, body, _ = redeem(b, context, "r-1")  # same request id in B is B's own, and B has no such reward
    assert (status, body["error"]["code"]) == (422, "unknown_reward")
    assert call(a, "GET", f"/v1/mall/redemptions/{placed['order_id']}", context=context)[1]["status"] == "placed"


def test_the_handler_redeems_through_the_deps_it_is_handed(shop, context):
    # GIVEN MallApi's deps with a ledger of the test's own
    ledger = CountingLedger()
    deps = mall_api.Deps(ledger=ledger, verifier=mall_api.default_deps().verifier)
    event = signed_event(shop.tenant_id, shop.secret, "POST", "/v1/mall/redemptions",
                         json.dumps({"request_id": "r-deps", "member_id": "u1", "reward_id": "mug"}).encode())
    # WHEN a redemption goes through process with those deps, and again (a replay)
    first = mall_api.process(event, context, deps)
    again = mall_api.process(event, context, deps)
    # THEN that ledger placed it, once, and the replay answered from the stored order
    assert (first["statusCode"], again["statusCode"], ledger.commits) == (201, 201, 1)
    assert json.loads(again["body"]) == json.loads(first["body"])
