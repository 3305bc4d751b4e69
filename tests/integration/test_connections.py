"""`qunyun connect` on DynamoDB Local: values checked before anything is stored, secrets only by reference in
the table, WeCom's corp id taken from `tenants wecom`, and a connection made again keeping its counters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fakes.callbacks import aes_key
from qunyun.adapters.community_tables import ConnectionItem
from qunyun.adapters.connections import ConnectionStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import InvalidRequest, NotFound
from qunyun.services.connections import connect, show
from qunyun.services.tenants import set_wecom_corp

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def deps():
    return {"tenants": TenantRepository(), "connections": ConnectionStore(), "secrets": secret_store(), "now": NOW}


def test_wecom_takes_the_corp_id_of_tenants_wecom(tenant):
    key = aes_key()
    # GIVEN no corp id given and none stored: refused, nothing connected
    with pytest.raises(InvalidRequest, match="tenants wecom"):
        connect(tenant.tenant_id, "wecom", {"token": "tok", "aes_key": key}, **deps())
    assert ConnectionStore().get(tenant.tenant_id, "wecom") is None
    # WHEN the corp credentials are stored with `tenants wecom`
    set_wecom_corp(tenant.tenant_id, "ww-corp", "corp-secret-1", tenants=TenantRepository(), secrets=secret_store())
    connection = connect(tenant.tenant_id, "wecom", {"token": "tok", "aes_key": key}, **deps())
    # THEN the connection refers to that corp id, and the table holds references, never values
    store = secret_store()
    assert store.get(connection.secret_refs["corp_id"]) == "ww-corp"
    assert store.get(connection.secret_refs["aes_key"]) == key
    item = ConnectionItem.get(f"{tenant.tenant_id}#CONNECTIONS", "wecom")
    assert key not in str(item.serialize())
    assert item.secret_refs.as_dict() == {"corp_id": f"local:{tenant.tenant_id}/wecom/corp_id",
                                          "token": f"local:{tenant.tenant_id}/wecom/token",
                                          "aes_key": f"local:{tenant.tenant_id}/wecom/aes_key"}


@pytest.mark.parametrize(("platform", "values", "field"), [
    ("wecom", {"token": "t", "aes_key": "short", "corp_id": "ww"}, "aes_key"),
    ("dingtalk", {"app_key": "k", "app_secret": "s", "token": "t"}, "aes_key"),
    ("slack", {"bot_token": "xoxb", "signing_secret": "has space"}, "signing_secret"),
    ("telegram", {"bot_token": "1:A", "secret_token": "no/slashes"}, "secret_token"),
])
def test_bad_values_store_nothing(tenant, platform, values, field):
    with pytest.raises(InvalidRequest) as refused:
        connect(tenant.tenant_id, platform, values, **deps())
    assert refused.value.details["field"] == field
    assert ConnectionStore().list(tenant.tenant_id) == []


def test_unknown_tenant_is_refused(ddb):
    with pytest.raises(NotFound):
        connect("nobody-here", "slack", {"bot_token": "x", "signing_secret": "y"}, **deps())


def test_connecting_again_keeps_the_counters(tenant):
    values = {"bot_token": "xoxb-1", "signing_secret": "first"}
    connect(tenant.tenant_id, "slack", values, **deps())
    store = ConnectionStore()
    for reason in ("signature_invalid", "signature_invalid", "timestamp_out_of_window"):
        store.refused(tenant.tenant_id, "slack", reason)
    store.touch(tenant.tenant_id, "slack", NOW)
    store.touch(tenant.tenant_id, "slack", datetime(2026, 12, 1, tzinfo=UTC))  # an older event moves nothing
    connect(tenant.tenant_id, "slack", {**values, "signing_secret": "second"}, **deps())
    [shown] = show(tenant.tenant_id, "https://api.example.com/", connections=store)
    assert shown["callback_url"] == f"https://api.example.com/v1/inbound/slack/{tenant.tenant_id}"
    assert shown["refusals"] == {"signature_invalid": 2, "timestamp_out_of_window": 1}
    assert shown["last_event_at"] == NOW.isoformat()
    assert secret_store().get(store.get(tenant.tenant_id, "slack").secret_refs["signing_secret"]) == "second"
    # AND refusals or events for a platform never connected create nothing
    store.refused(tenant.tenant_id, "feishu", "unparsable")
    store.touch(tenant.tenant_id, "feishu", NOW)
    assert store.get(tenant.tenant_id, "feishu") is None
