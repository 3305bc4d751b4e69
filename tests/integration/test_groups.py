"""Importing the group CSV into DynamoDB Local: all or nothing, credentials kept out of the items."""

from __future__ import annotations

import json

import pytest
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.errors import NotFound
from qunyun.domain.groups import Status
from qunyun.services.groups import InvalidGroupFile, import_groups, list_groups, show_group
from support import count_items

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
ROBOT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
GOOD = "\n".join([
    HEADER,
    "g1,宝妈交流群,learning,outbox,,,,,,,,vip;parents,s1,rep1,",
    f"g2,内部群,other,wecom_robot,{ROBOT_URL},,,,Asia/Tokyo,07:30,-,,,,",
    "g3,飞书群,traffic,feishu_bot,https://open.feishu.cn/open-apis/bot/v2/hook/abc,SEC-feishu,,,,,,,,,",
])


def deps():
    return {"tenants": TenantRepository(), "groups": GroupRepository(), "secrets": secret_store()}


def test_import_list_and_show(tenant, ddb):
    report = import_groups(tenant.tenant_id, GOOD, **deps())
    assert (report.created, report.updated, report.secrets_stored) == (3, 0, 3)
    groups = list_groups(tenant.tenant_id, tenants=TenantRepository(), groups=GroupRepository())
    assert [g.group_id for g in groups] == ["g1", "g2", "g3"]
    g2 = show_group(tenant.tenant_id, "g2", tenants=TenantRepository(), groups=GroupRepository())
    assert (g2.morning, g2.evening, g2.timezone, g2.status) == ("07:30", None, "Asia/Tokyo", Status.active)
    assert g2.webhook_host == "qyapi.weixin.qq.com"
    # the credential resolves through the secret store at send time
    assert secret_store().get(g2.webhook_ref) == ROBOT_URL


def test_credentials_never_reach_the_table(tenant, ddb):
    import_groups(tenant.tenant_id, GOOD, **deps())
    items = ddb.query(TableName="qunyun-test-groups", KeyConditionExpression="tenant_id = :t",
                      ExpressionAttributeValues={":t": {"S": tenant.tenant_id}})["Items"]
    stored = json.dumps(items)
    assert "693a91f6" not in stored and "SEC-feishu" not in stored and "bot/v2/hook/abc" not in stored
    assert '"local:' in stored  # only references


def test_one_bad_row_imports_nothing_and_names_every_bad_line(tenant, ddb):
    # GIVEN a file with good rows and two bad ones
    bad = GOOD + "\ng4,x,flash,outbox,,,,,,,,,,,\ng5,y,other,outbox,,,,,,25:61,,,,,\n"
    # WHEN it is imported
    with pytest.raises(InvalidGroupFile) as err:
        import_groups(tenant.tenant_id, bad, **deps())
    # THEN each bad row is named, and nothing at all was written
    assert [(e.line, e.field) for e in err.value.errors] == [(5, None), (6, "morning")]
    assert err.value.status == 400 and err.value.code == "invalid_group_file"
    assert count_items(ddb, "groups", tenant.tenant_id) == 0


def test_reimport_updates_fields_and_keeps_status_and_creation(tenant, ddb):
    import_groups(tenant.tenant_id, GOOD, **deps())
    first = show_group(tenant.tenant_id, "g1", tenants=TenantRepository(), groups=GroupRepository())
    ddb.update_item(TableName="qunyun-test-groups", Key={"tenant_id": {"S": tenant.tenant_id}, "group_id": {"S": "g1"}},
                    UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":s": {"S": "ended"}})
    report = import_groups(tenant.tenant_id, GOOD.replace("宝妈交流群", "宝妈群2"), **deps())
    assert (report.created, report.updated) == (0, 3)
    again = show_group(tenant.tenant_id, "g1", tenants=TenantRepository(), groups=GroupRepository())
    assert (again.name, again.status, again.created_at) == ("宝妈群2", Status.ended, first.created_at)
    assert count_items(ddb, "groups", tenant.tenant_id) == 3


def test_tenants_never_see_each_others_groups(make_tenant, ddb):
    a, b = make_tenant(), make_tenant()
    import_groups(a.tenant_id, GOOD, **deps())
    assert list_groups(b.tenant_id, tenants=TenantRepository(), groups=GroupRepository()) == []
    with pytest.raises(NotFound):
        show_group(b.tenant_id, "g1", tenants=TenantRepository(), groups=GroupRepository())


def test_unknown_tenant_and_empty_file(ddb, tenant):
    with pytest.raises(NotFound) as err:
        import_groups("no-such-tenant", GOOD, **deps())
    assert err.value.code == "unknown_tenant"
    with pytest.raises(InvalidGroupFile):
        import_groups(tenant.tenant_id, "", **deps())
    with pytest.raises(Exception) as err:
        import_groups(tenant.tenant_id, HEADER + "\n", **deps())
    assert err.value.code == "invalid_group_file"
    assert count_items(ddb, "groups", tenant.tenant_id) == 0


def test_import_of_thousands_uses_batched_writes(tenant, ddb):
    # GIVEN a count of every DynamoDB call the repositories make
    from qunyun.adapters.tables import GroupItem

    calls: dict[str, int] = {}
    events = GroupItem._get_connection().connection.client.meta.events
    count = lambda model, **_: calls.update({model.name: calls.get(model.name, 0) + 1})  # noqa: E731
    events.register("before-call.dynamodb", count)
    rows = [HEADER] + [f"g{i:05d},群{i},traffic,outbox,,,,,,,,,,," for i in range(2600)]
    try:
        report = import_groups(tenant.tenant_id, "\n".join(rows), **deps())
    finally:
        events.unregister("before-call.dynamodb", count)
    # THEN the groups went out 25 to a BatchWriteItem, never one PutItem each
    assert report.created == 2600
    assert calls.get("BatchWriteItem", 0) == 2600 // 25
    assert "PutItem" not in calls
    assert count_items(ddb, "groups", tenant.tenant_id) == 2600
