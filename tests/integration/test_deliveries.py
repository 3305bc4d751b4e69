"""Delivery records on DynamoDB Local: planned with their slot, skipped with a reason, moved on by the sender,
listed by tenant and date or by group, and `qunyun deliveries list` as API.md §5 shows it."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime

import pytest
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.deliveries import Status
from qunyun.domain.errors import NotFound
from qunyun.domain.quota import Push
from qunyun.services.deliveries import list_deliveries, plan_push
from qunyun.services.groups import import_groups
from qunyun_ops.cli import app
from typer.testing import CliRunner

NOW = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
DAY = date(2026, 11, 25)
MORNING, EVENING, FAREWELL = Push.brief("morning"), Push.brief("evening"), Push.farewell()
HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
GROUPS = "\n".join([HEADER] + [
    f"robot-{i},茶友群 {i},welfare,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k{i},,,,,,,,,,"
    for i in range(6)] + ["cust,客户群,traffic,wecom_customer_group,,,zhangsan,wrOgQhDgAA,,,,,,,"])


@pytest.fixture
def shop(tenant):
    import_groups(tenant.tenant_id, GROUPS, tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    return TenantRepository().get(tenant.tenant_id)


def plan(shop, group_id: str, push: Push, day: date = DAY, later=()):
    group = GroupRepository().get(shop.tenant_id, group_id)
    return plan_push(shop, group, push, day, later, deliveries=DeliveryRepository(), now=NOW)[0]


def listed(shop, day=DAY, group_id=None):
    return list_deliveries(shop.tenant_id, day, group_id, tenants=TenantRepository(), groups=GroupRepository(),
                           deliveries=DeliveryRepository(), now=NOW)[1]


def test_planned_with_the_slot_and_skipped_with_the_reason(shop):
    # GIVEN a robot group with the default cap of 2 and a farewell planned for later
    # WHEN the morning brief, the farewell and the evening brief are planned in turn
    morning = plan(shop, "robot-0", MORNING, later=[FAREWELL, EVENING])
    farewell = plan(shop, "robot-0", FAREWELL, later=[EVENING])
    evening = plan(shop, "robot-0", EVENING)
    # THEN the first two are planned, the evening brief is recorded as skipped for the daily cap
    assert (morning.status, morning.kind, morning.edition, morning.channel) == ("planned", "brief", "morning",
                                                                                 "wecom_robot")
    assert (farewell.status, farewell.kind, farewell.edition) == ("planned", "farewell", None)
    assert (evening.status, evening.reason) == ("skipped", "daily_cap")
    # AND planning any of them again returns the same record and spends nothing
    assert plan(shop, "robot-0", MORNING) == morning and plan(shop, "robot-0", EVENING) == evening
    spent = DeliveryRepository().spent(shop.tenant_id, "robot-0", DAY, None)
    assert spent.day == 2 and spent.pushes == {MORNING.push_id, FAREWELL.push_id}


def test_a_customer_group_out_of_quota_is_skipped_for_quota(shop):
    # GIVEN a customer group on a one-send-a-day quota
    daily = shop.model_copy(update={"policy": shop.policy.model_copy(update={"quota_period": "day"})})
    # WHEN both briefs are planned
    morning = plan(daily, "cust", MORNING)
    evening = plan(daily, "cust", EVENING)
    # THEN the morning brief took the day's send and says which quota period it spent from
    assert (morning.status, morning.quota_period) == ("planned", "D2026-11-25")
    assert (evening.status, evening.reason) == ("skipped", "quota")


def test_concurrent_planning_of_one_push_writes_one_record(shop):
    # GIVEN 10 threads planning the same morning brief at once
    results, start = [], threading.Barrier(10)

    def run():
        start.wait()
        results.append(plan(shop, "robot-1", MORNING))

    threads = [threading.Thread(target=run) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN all see the one planned record, and one slot was spent
    assert len(results) == 10 and len({r.model_dump_json() for r in results}) == 1
    assert DeliveryRepository().spent(shop.tenant_id, "robot-1", DAY, None).day == 1
    assert [d.push_id for d in listed(shop, group_id="robot-1")] == [MORNING.push_id]


@pytest.mark.parametrize("begun", [None, False, True], ids=["unknown", "guessed new", "guessed begun"])
def test_a_skip_is_recorded_once_whatever_is_guessed_of_the_day(shop, begun):
    # GIVEN robot-1's day begun by a farewell planned before its morning brief was skipped
    farewell = plan(shop, "robot-1", FAREWELL)
    repo = DeliveryRepository()
    skip = farewell.model_copy(update={"kind": "brief", "edition": "morning", "push_id": MORNING.push_id,
                                       "status": Status.skipped, "reason": "no_brief"})
    # WHEN the skip is recorded twice, told the day is new, begun, or nothing
    first, second = repo.add(skip, begun=begun), repo.add(skip, begun=begun)
    # THEN it is written once, beside the farewell, which is unchanged
    assert (first, second) == (True, False)
    day = repo.day(shop.tenant_id, "robot-1", DAY)
    assert sorted(day.records) == sorted([FAREWELL.push_id, MORNING.push_id])
    assert day.record(FAREWELL.push_id) == farewell and day.record(MORNING.push_id) == skip
    # AND on a day nobody has written yet, each guess writes it once too
    fresh = skip.model_copy(update={"date": date(2026, 11, 26)})
    assert (repo.add(fresh, begun=begun), repo.add(fresh, begun=begun)) == (True, False)
    assert repo.get(shop.tenant_id, "robot-1", fresh.date, MORNING.push_id) == fresh


def test_the_sender_moves_a_record_on_and_never_back(shop):
    repo = DeliveryRepository()
    record = plan(shop, "robot-2", MORNING)
    later = datetime(2026, 11, 25, 0, 1, tzinfo=UTC)
    # GIVEN a transient failure counted as an attempt, then a send in two parts
    retried = repo.move(record, Status.planned, later, error="45009: rate limited", attempt=True)
    sent = repo.move(record, Status.sent, later, message_ids=["m1", "m2"], attempt=True)
    # THEN the record says so
    assert (retried.status, retried.attempts, retried.error) == ("planned", 1, "45009: rate limited")
    assert (sent.status, sent.attempts, sent.message_ids, sent.sent_at) == ("sent", 2, ["m1", "m2"], later)
    # AND a sent record cannot become failed afterwards (a late duplicate of the queue message)
    assert repo.move(record, Status.failed, later, error="late") is None
    assert repo.get(shop.tenant_id, "robot-2", DAY, MORNING.push_id).status == "sent"


def test_listed_by_tenant_and_date_and_by_group(shop, make_tenant):
    # GIVEN pushes to six groups on two dates, and another tenant's push to a group of the same id
    for i in range(6):
        plan(shop, f"robot-{i}", MORNING)
    plan(shop, "robot-3", EVENING)
    plan(shop, "robot-3", MORNING, date(2026, 11, 26))
    other = make_tenant()
    import_groups(other.tenant_id, GROUPS, tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    plan(TenantRepository().get(other.tenant_id), "robot-0", FAREWELL)
    # WHEN the date is listed
    day = listed(shop)
    # THEN every group's pushes of that date are there, in group order, and nothing of the other tenant
    assert [(d.group_id, d.push_id) for d in day] == [(f"robot-{i}", MORNING.push_id) for i in range(3)] + [
        ("robot-3", EVENING.push_id), ("robot-3", MORNING.push_id), ("robot-4", MORNING.push_id),
        ("robot-5", MORNING.push_id)]
    # AND one group's, of the date or its latest first
    assert [d.push_id for d in listed(shop, group_id="robot-3")] == [EVENING.push_id, MORNING.push_id]
    latest = list_deliveries(shop.tenant_id, None, "robot-3", tenants=TenantRepository(), groups=GroupRepository(),
                             deliveries=DeliveryRepository(), now=NOW)
    assert latest[0] is None and [d.date for d in latest[1]] == [date(2026, 11, 26), DAY, DAY]
    # AND without a date, today in the tenant's timezone (Asia/Shanghai: already the 25th at 17:00 UTC on the 24th)
    evening_utc = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    today, found = list_deliveries(shop.tenant_id, tenants=TenantRepository(), groups=GroupRepository(),
                                   deliveries=DeliveryRepository(), now=evening_utc)
    assert today == DAY and len(found) == 7


def test_unknown_tenant_or_group_is_named(shop):
    with pytest.raises(NotFound) as caught:
        list_deliveries("t-nobody", DAY, tenants=TenantRepository(), groups=GroupRepository(),
                        deliveries=DeliveryRepository(), now=NOW)
    assert caught.value.code == "unknown_tenant"
    with pytest.raises(NotFound) as caught:
        listed(shop, group_id="nope")
    assert caught.value.code == "unknown_group" and "'nope'" in caught.value.message


# ---- `qunyun deliveries list`, in process against the tests' DynamoDB Local --------------------------------

def cli(*args: str):
    return CliRunner().invoke(app, ["deliveries", "list", *args])


def test_cli_lists_a_table_and_json(shop):
    plan(shop, "robot-0", MORNING, later=[FAREWELL])
    plan(shop, "robot-0", FAREWELL)
    plan(shop, "robot-0", EVENING)
    # WHEN the date is listed as a table
    table = cli("--tenant", shop.tenant_id, "--date", str(DAY))
    # THEN each push shows its group, kind, edition, status and reason
    assert table.exit_code == 0, table.output
    assert f"3 deliveries of {shop.tenant_id} on {DAY}" in table.stdout
    for column in ("group", "kind", "edition", "status", "reason"):
        assert column in table.stdout
    assert "daily_cap" in table.stdout and "farewell" in table.stdout
    # WHEN as JSON, one group
    data = json.loads(cli("--tenant", shop.tenant_id, "--date", str(DAY), "--group", "robot-0", "--json").stdout)
    # THEN every field of the records is there
    assert [(d["kind"], d["edition"], d["status"], d["reason"]) for d in data] == [
        ("brief", "evening", "skipped", "daily_cap"), ("brief", "morning", "planned", None),
        ("farewell", None, "planned", None)]
    assert set(data[0]) >= {"group_id", "date", "channel", "attempts", "error", "message_ids", "updated_at"}
    assert json.loads(cli("--tenant", shop.tenant_id, "--date", "2026-11-24", "--json").stdout) == []


@pytest.mark.parametrize("args, words", [
    (("--date", "2026-11-31"), "--date '2026-11-31' is not a date such as 2026-11-25"),
    (("--date", "tomorrow"), "--date 'tomorrow' is not a date"),
    (("--group", "nope"), "has no group 'nope'"),
])
def test_cli_bad_arguments_answer_a_clear_error(shop, args, words):
    result = cli("--tenant", shop.tenant_id, *args)
    assert result.exit_code == 2 and words in result.stderr, result.output


def test_cli_unknown_tenant():
    result = cli("--tenant", "t-nobody", "--json")
    assert result.exit_code == 2 and "There is no tenant 't-nobody'" in result.stderr


# ---- `--local`: the stack `qunyun local up` runs -------------------------------------------------------------

def test_cli_local_lists_what_the_local_stack_holds(tmp_path, shop):
    from qunyun.adapters.deliveries import day_key, encode
    from qunyun.adapters.deliveries_tables import DayItem
    from qunyun_ops.local.stack import ddb_client
    from support_stack import Stack

    stack = Stack(tmp_path).up("--no-schedule")
    try:
        assert stack.cli("tenants", "create", "tea", "--name", "Tea", "--local").returncode == 0
        # GIVEN a record written into the local stack's own table (made here, as the sender will make it)
        record = plan(shop, "robot-0", MORNING).model_copy(update={"tenant_id": "tea"})
        state = json.loads((stack.state / "local.json").read_text())
        ddb_client(state["ddb_endpoint"]).put_item(TableName=f"{state['stack_name']}-deliveries",
                                                   Item=DayItem(*day_key("tea", DAY, "robot-0"),
                                                                records={record.push_id: encode(record)}).serialize())
        # WHEN it is listed with --local
        found = stack.cli("deliveries", "list", "--tenant", "tea", "--date", str(DAY), "--local", "--json")
        refused = stack.cli("deliveries", "list", "--tenant", "tea", "--date", "25.11.2026", "--local")
        # THEN the local stack's record is shown, and a bad date is refused with a sentence
        assert found.returncode == 0, found.stderr
        assert [(d["group_id"], d["push_id"], d["status"]) for d in json.loads(found.stdout)] == [
            ("robot-0", MORNING.push_id, "planned")]
        assert refused.returncode == 2 and "is not a date such as 2026-11-25" in refused.stderr
    finally:
        stack.stop()
