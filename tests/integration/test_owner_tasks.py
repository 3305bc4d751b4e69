"""FollowUpOwnerTasks on DynamoDB Local against the fake WeCom customer-group API: groups the owner confirmed end
sent, an unconfirmed task is reminded at most 3 times in any 24 hours and cancelled when its push goes stale,
a schedule fired twice does nothing more, a crash between a WeCom call and its record is safe to run again,
WeCom's refusals are handled, and the work is found through the `awaiting_owner` index, never a Scan."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import send_pushes
from fakes.base import FakeClock
from fakes.wecom_customer_group import FakeWecomCustomerGroups
from follow_up_owner_tasks import process
from pynamodb.connection import Connection
from qunyun.adapters import deliveries_tables, tables
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import DeliveryRepository, waiting_pk
from qunyun.adapters.deliveries_tables import DayItem, WaitingTaskItem
from qunyun.adapters.delivery_claims import DeliveryClaims
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.owner_tasks import OwnerTaskLog
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.wecom_customer_group import TokenCache, WecomCustomerGroups
from qunyun.domain.briefs import parse_brief
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.push_messages import parse_push
from qunyun.domain.quota import Push
from qunyun.services.groups import import_groups
from qunyun.services.owner_tasks import FollowUpDeps
from qunyun.services.push_job import claim_lease
from qunyun.services.push_send import send_message
from qunyun.services.send_deps import SendDeps
from qunyun_ops.local.sqs import sqs_record

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
DAY = date(2026, 11, 27)
CREATED = datetime(2026, 11, 27, 0, 0, 5, tzinfo=UTC)  # 08:00:05 in Shanghai: SendPushes creates the tasks
STALE = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: the morning brief goes stale
MORNING = Push.brief("morning")


def local(hhmm: str, day: date = DAY) -> datetime:
    """A scheduled time given as Shanghai wall time."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture(autouse=True)
def no_scan(monkeypatch):
    """Any Scan fails the test, through a model or a bare connection: the job reads the index only."""

    def refuse(*args, **kwargs):
        raise AssertionError("FollowUpOwnerTasks scanned a table")

    for model in (tables.GroupItem, tables.TenantItem, DayItem, WaitingTaskItem, deliveries_tables.OwnerTaskItem,
                  deliveries_tables.CounterItem):
        monkeypatch.setattr(model, "scan", refuse)
    monkeypatch.setattr(Connection, "scan", refuse)


@pytest.fixture
def clock():
    return FakeClock(CREATED.timestamp())


@pytest.fixture
def wecom(tenant, clock):
    """The tenant's corp on a fake WeCom; owner zhang has customer groups cg1-cg3 (chats wr1-wr3), owner li cg9."""
    with FakeWecomCustomerGroups(clock) as fake:
        fake.tenant_id = tenant.tenant_id
        fake.add_corp("corp-1", "s3cret")
        fake.add_owner("zhang", ["wr1", "wr2", "wr3"])
        fake.add_owner("li", ["wr9"])
        rows = [f"cg{i},客户群 {i},traffic,wecom_customer_group,,,zhang,wr{i},,,,,,," for i in (1, 2, 3)]
        rows.append("cg9,客户群 9,traffic,wecom_customer_group,,,li,wr9,,,,,,,")
        import_groups(tenant.tenant_id, "\n".join([HEADER, *rows]), tenants=TenantRepository(),
                      groups=GroupRepository(), secrets=secret_store())
        secret_store().put_many({f"{tenant.tenant_id}/wecom/corp_id": "corp-1",
                                 f"{tenant.tenant_id}/wecom/corp_secret": "s3cret"})
        brief = parse_brief({"date": str(DAY), "edition": "morning", "title": "早安",
                             "sections": [{"kind": "tip", "text": "泡绿茶水温 80°C 最佳"}]})
        ContentRepository().put_brief(tenant.tenant_id, brief, CREATED)
        yield fake


def client(wecom) -> WecomCustomerGroups:
    return WecomCustomerGroups(wecom.base_url, timeout=5.0, clock=wecom.clock, tokens=TokenCache())


def send_deps(wecom) -> SendDeps:
    customer = client(wecom)
    return SendDeps(tenants=TenantRepository(), groups=GroupRepository(), content=ContentRepository(),
                    deliveries=DeliveryRepository(), ledger=PointsLedger(), secrets=secret_store(),
                    claims=DeliveryClaims(claim_lease(60)), channel=lambda name: None,
                    customer_groups=lambda: customer, clock=lambda: CREATED)


OWNERS = {"zhang": ["cg1", "cg2", "cg3"], "li": ["cg9"]}


def owner_message(tenant, owner: str) -> dict:
    return {"tenant_id": tenant.tenant_id, "edition": "morning", "date": str(DAY), "group_ids": OWNERS[owner],
            "owner": owner}


def create_tasks(tenant, wecom, *owners: str) -> dict[str, str]:
    """SendPushes hands the morning brief to each owner as one task, at 08:00:05; owner → msgid."""
    deps = send_deps(wecom)
    before = set(wecom.tasks)
    for owner in owners or ("zhang",):
        send_message(parse_push(owner_message(tenant, owner)), deps=deps)
    return {wecom.tasks[m].sender: m for m in set(wecom.tasks) - before}


class Tenants(TenantRepository):
    """The tenants as stored, with policy changes for one test."""

    def __init__(self, **policy):
        self.policy = policy

    def get(self, tenant_id):
        tenant = super().get(tenant_id)
        return tenant and tenant.model_copy(update={"policy": tenant.policy.model_copy(update=self.policy)})


class OneTenant(DeliveryRepository):
    """The deliveries, with the index showing one tenant's tasks: other tests' tasks share DynamoDB Local."""

    def __init__(self, tenant_id: str):
        super().__init__()
        self.tenant_id = tenant_id

    def awaiting_owner(self, first_shard: int = 0):
        return (t for t in super().awaiting_owner(first_shard) if t.tenant_id == self.tenant_id)


def deps(wecom, **extra) -> FollowUpDeps:
    customer = client(wecom)
    return FollowUpDeps(**{"tenants": TenantRepository(), "groups": GroupRepository(),
                           "deliveries": OneTenant(wecom.tenant_id), "log": OwnerTaskLog(),
                           "secrets": secret_store(), "customer_groups": lambda: customer, **extra})


def run(wecom, at: datetime, **extra) -> dict:
    """Fires the job as the scheduler would at `at`; WeCom's clock shows the same time."""
    wecom.clock.now = max(wecom.clock.now, at.timestamp())
    return process({"scheduled_time": at.isoformat().replace("+00:00", "Z")}, deps=deps(wecom, **extra))


def status(tenant, *groups: str, push: Push = MORNING, day: date = DAY) -> dict[str, tuple[str, str | None]]:
    found = {g: DeliveryRepository().get(tenant.tenant_id, g, day, push.push_id) for g in groups}
    return {g: (d.status.value, d.reason) for g, d in found.items()}


def waiting(tenant) -> dict[str, list[str]]:
    """msgid → groups of the tenant's tasks still in the awaiting_owner index."""
    return {t.msgid: sorted(r.group_id for r in t.records) for t in DeliveryRepository().awaiting_owner()
            if t.tenant_id == tenant.tenant_id}


def test_confirmed_groups_end_sent_failed_ones_say_why_and_the_rest_keep_waiting(tenant, wecom):
    # GIVEN zhang's task for cg1-cg3, found in the index under its msgid
    msgid = create_tasks(tenant, wecom)["zhang"]
    assert waiting(tenant) == {msgid: ["cg1", "cg2", "cg3"]}
    # AND zhang confirms cg1 and cg2 at 08:10, cg2 having had its month's mass sends already
    wecom.sends[("wr2", "2026-11")] = 30
    wecom.clock.now = local("08:10").timestamp()
    assert wecom.confirm(msgid, "zhang", ["wr1", "wr2"]) == {"wr1": 1, "wr2": 3}
    # WHEN the job runs at 08:15
    summary = run(wecom, local("08:15"))
    # THEN cg1 is sent at WeCom's send time, cg2 failed for its quota, and cg3 still waits, alone in the index
    assert status(tenant, "cg1", "cg2", "cg3") == {"cg1": ("sent", None), "cg2": ("failed", "quota_exhausted"),
                                                  "cg3": ("awaiting_owner", None)}
    sent = DeliveryRepository().get(tenant.tenant_id, "cg1", DAY, MORNING.push_id)
    assert sent.sent_at == local("08:10") and sent.message_ids == [msgid]
    assert (summary["sent"], summary["failed"], summary.get("reminded", 0)) == (1, 1, 0)
    assert waiting(tenant) == {msgid: ["cg3"]}
    item = WaitingTaskItem.get(waiting_pk(tenant.tenant_id, msgid), "WAIT", consistent_read=True)
    assert item.waiting == {"cg3"}  # cg1 and cg2 left the task's list with their records


def test_an_owners_groups_are_read_with_their_months_mass_sends_and_one_used_up_is_left_out(tenant, wecom):
    from qunyun.adapters.deliveries import group_pk, quota_sk, quota_token
    from qunyun.adapters.deliveries_tables import CounterItem
    from support import DynamoCalls, dynamodb_clients

    # GIVEN cg2 has had November's 30 mass sends already
    CounterItem(group_pk(tenant.tenant_id, "cg2"), quota_sk("M2026-11"),
                pushes={quota_token(date(2026, 11, 1 + i % 26), f"reminder.old-{i}.1h") for i in range(30)}).save()
    # WHEN SendPushes' handler gets zhang's message for cg1-cg3 from the queue
    message = {"MessageId": "m-zhang", "ReceiptHandle": "rh-zhang", "Body": json.dumps(owner_message(tenant, "zhang")),
               "Attributes": {"ApproximateReceiveCount": "1"}, "MD5OfBody": "0" * 32}
    event = {"Records": [sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:qunyun-test-briefs", "us-east-1")]}
    with DynamoCalls(dynamodb_clients()) as seen:
        handler = send_pushes.Deps(send_deps(wecom), SimpleNamespace(retry_after=None), max_receives=5,
                                   channel_timeout_seconds=10.0)
        response = send_pushes.process(event, deps=handler)
    assert response == {"batchItemFailures": []}
    (msgid,) = wecom.tasks
    # THEN the task covers cg1 and cg3; cg2 is skipped for the quota
    assert sorted(wecom.tasks[msgid].chat_ids) == ["wr1", "wr3"]
    assert status(tenant, "cg1", "cg2", "cg3") == {"cg1": ("awaiting_owner", None), "cg2": ("skipped", "quota"),
                                                  "cg3": ("awaiting_owner", None)}
    # AND the three groups' days and November's mass sends were read in one request, none again when planned
    calls = dict(seen.calls)
    assert calls["BatchGetItem:deliveries"] == 1 and "GetItem:deliveries" not in calls, calls
    # ... cg1 and cg3 took their mass sends in one request and then their days in another (nothing is sent
    # before all are planned), and their outcomes went in a third; cg2 wrote only its skip's record (PutItem)
    # and the task entered the follow-up job's index (PutItem)
    assert calls["BatchExecuteStatement:deliveries"] == 3 and calls["PutItem:deliveries"] == 1 + 1, calls
    assert "UpdateItem:deliveries" not in calls, calls


def test_an_unconfirmed_task_is_reminded_three_times_and_cancelled_at_noon(tenant, wecom):
    # GIVEN zhang's task, which he confirms for cg1 only, at 10:20
    msgid = create_tasks(tenant, wecom)["zhang"]
    # WHEN the job runs every 15 minutes from 08:15 to 14:00, each time fired twice
    at = local("08:15")
    while at <= local("14:00"):
        if at == local("10:30"):
            wecom.clock.now = local("10:20").timestamp()
            wecom.confirm(msgid, "zhang", ["wr1"])
        run(wecom, at)
        calls = len(wecom.requests)
        again = run(wecom, at)
        assert len(wecom.requests) == calls and {"sent", "reminded", "cancelled"}.isdisjoint(again)
        if at < STALE:
            assert status(tenant, "cg3")["cg3"] == ("awaiting_owner", None)
        at += timedelta(minutes=15)
    # THEN the owner was reminded an hour after the task and every hour after that, three times, no more asked
    assert [t for m, t in wecom.reminded if m == msgid] == [local(h).timestamp() for h in ("09:15", "10:15", "11:15")]
    assert wecom.calls("remind_groupmsg_send") == 3 and wecom.refused_reminders == 0
    # AND at 12:00 the task was cancelled once: cg1 sent, the others cancelled as stale
    assert wecom.tasks[msgid].cancelled and wecom.calls("cancel_groupmsg_send") == 1
    assert status(tenant, "cg1", "cg2", "cg3") == {"cg1": ("sent", None), "cg2": ("cancelled", "stale"),
                                                  "cg3": ("cancelled", "stale")}
    assert waiting(tenant) == {}
    # AND a confirmation after the cancellation reaches nobody
    assert wecom.confirm(msgid, "zhang", ["wr2"]) == {}


def test_the_stale_time_is_the_tenants(tenant, wecom):
    # GIVEN a tenant whose morning briefs go stale at 09:30
    msgid = create_tasks(tenant, wecom)["zhang"]
    tenants = Tenants(morning_stale_at="09:30")
    # WHEN the job runs at 09:15 and 09:30
    run(wecom, local("09:15"), tenants=tenants)
    assert status(tenant, "cg1")["cg1"] == ("awaiting_owner", None)
    run(wecom, local("09:30"), tenants=tenants)
    # THEN the task was reminded once and is cancelled at 09:30
    assert len(wecom.reminded) == 1 and wecom.tasks[msgid].cancelled
    assert set(status(tenant, "cg1", "cg2", "cg3").values()) == {("cancelled", "stale")}


def farewell_task(tenant, wecom, created: datetime) -> str:
    """A farewell to cg9 handed to its owner li as a task, the way any push other than a brief would be."""
    msgid = client(wecom).add_msg_template(wecom_corp(), "li", ["wr9"], "感谢大家的陪伴").data.msgid
    record = Delivery.of(tenant.tenant_id, "cg9", DAY, Push.farewell(), "wecom_customer_group", Status.planned,
                         created)
    repo, claims = DeliveryRepository(), DeliveryClaims(claim_lease(60))
    assert repo.add(record) and claims.claim(record, "tok", created).state == "claimed"
    repo.await_owner(msgid, [record], created)  # as SendPushes hands a task over: its entry, then its record
    assert claims.finish(record, "tok", Status.awaiting_owner, created, message_ids=[msgid])
    return msgid


def wecom_corp():
    from qunyun.channels.wecom_customer_group import Corp

    return Corp("corp-1", "s3cret")


def test_reminders_never_exceed_three_in_any_24_hours_and_other_pushes_go_stale_after_the_default(tenant, wecom):
    # GIVEN a farewell task created at 08:00:05 and a tenant whose tasks other than briefs stay open 48 hours
    msgid = farewell_task(tenant, wecom, CREATED)
    tenants = Tenants(owner_task_stale_hours=48)
    # WHEN the job runs every 30 minutes for 50 hours, and the owner never confirms
    at = CREATED.replace(second=0)
    while at <= CREATED + timedelta(hours=50):
        run(wecom, at, tenants=tenants)
        at += timedelta(minutes=30)
    # THEN no 24 hours ever held more than 3 reminders, WeCom refused none, and the owner was chased again a day on
    times = sorted(t for m, t in wecom.reminded if m == msgid)
    assert all(sum(1 for u in times if t <= u < t + 86400) <= 3 for t in times)
    assert wecom.refused_reminders == 0 and len(times) == 6
    # AND the task was cancelled 48 hours after it was created, not before
    assert wecom.tasks[msgid].cancelled
    record = DeliveryRepository().get(tenant.tenant_id, "cg9", DAY, Push.farewell().push_id)
    assert (record.status.value, record.reason) == ("cancelled", "stale")
    assert record.updated_at == datetime(2026, 11, 29, 0, 30, tzinfo=UTC)


def test_a_schedule_fired_twice_at_once_reminds_once(tenant, wecom):
    # GIVEN a task due for its first reminder at 09:15
    create_tasks(tenant, wecom)
    # WHEN two runs for 09:15 start together, as a scheduler retry overlapping the first firing would
    results = []
    threads = [threading.Thread(target=lambda: results.append(run(wecom, local("09:15")))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN the owner was asked once
    assert len(results) == 2 and wecom.calls("remind_groupmsg_send") == 1
    # AND a third firing for 09:15 calls WeCom not at all
    calls = len(wecom.requests)
    assert run(wecom, local("09:15"))["repeated"] == 1 and len(wecom.requests) == calls


class Crash(BaseException):
    pass


def crash_after(api: str):
    """A run that stops right after WeCom answered `api`, before recording anything about it (as a Lambda
    timing out or its process dying would)."""

    def hook(called, msgid, result):
        if called == api:
            raise Crash(api)

    return hook


def test_a_crash_after_a_reminder_is_sent_never_reminds_more(tenant, wecom):
    # GIVEN a run at 09:15 that stops right after WeCom accepted its reminder
    create_tasks(tenant, wecom)
    with pytest.raises(Crash):
        run(wecom, local("09:15"), after_call=crash_after("remind_groupmsg_send"))
    # WHEN the scheduler retries it, and the job goes on every 15 minutes until noon
    at = local("09:15")
    while at < STALE:
        run(wecom, at)
        at += timedelta(minutes=15)
    # THEN the crashed run's reminder counted: three in all, never a second one at 09:15
    assert [t for _, t in wecom.reminded] == [local(h).timestamp() for h in ("09:15", "10:15", "11:15")]
    assert wecom.calls("remind_groupmsg_send") == 3


def test_a_crash_after_reading_the_results_records_them_on_the_rerun(tenant, wecom):
    # GIVEN zhang confirmed cg2, and a run that stops after reading the results, before recording them
    msgid = create_tasks(tenant, wecom)["zhang"]
    wecom.confirm(msgid, "zhang", ["wr2"])
    with pytest.raises(Crash):
        run(wecom, local("08:15"), after_call=crash_after("all_send_results"))
    assert status(tenant, "cg2")["cg2"] == ("awaiting_owner", None)
    # WHEN the scheduler retries the run for the same time
    run(wecom, local("08:15"))
    # THEN cg2 is recorded sent
    assert status(tenant, "cg2")["cg2"] == ("sent", None)


@pytest.mark.parametrize("again", [None, 40058], ids=["cancel-again-accepted", "cancel-again-refused"])
def test_a_crash_after_cancelling_records_the_groups_cancelled_on_the_rerun(tenant, wecom, again):
    # GIVEN a stale task whose run stops right after WeCom cancelled it, before any group is recorded
    msgid = create_tasks(tenant, wecom)["zhang"]
    with pytest.raises(Crash):
        run(wecom, STALE, after_call=crash_after("cancel_groupmsg_send"))
    assert wecom.tasks[msgid].cancelled and waiting(tenant) == {msgid: ["cg1", "cg2", "cg3"]}
    # WHEN the scheduler retries it, WeCom accepting a second cancellation or (undocumented) refusing it
    wecom.cancel_again_errcode = again
    summary = run(wecom, STALE)
    # THEN the groups are recorded cancelled, and nothing is left to follow up
    assert set(status(tenant, "cg1", "cg2", "cg3").values()) == {("cancelled", "stale")}
    assert summary["cancelled"] == 3 and waiting(tenant) == {}


def test_a_rate_limit_leaves_the_tenants_tasks_for_the_next_run(tenant, wecom):
    # GIVEN two owners' tasks, zhang's cg1 confirmed, and WeCom answering 45009 for the next minute
    msgids = create_tasks(tenant, wecom, "zhang", "li")
    wecom.confirm(msgids["zhang"], "zhang", ["wr1"])
    wecom.clock.now = local("08:15").timestamp()
    wecom.force_errcode(45009, 60)
    # WHEN the job runs at 08:15
    calls = len(wecom.requests)
    summary = run(wecom, local("08:15"))
    # THEN it asked WeCom once and left both tasks as they were
    assert len(wecom.requests) == calls + 1 and summary["deferred"] == 2
    assert status(tenant, "cg1")["cg1"] == ("awaiting_owner", None)
    # AND the scheduler's retry of the same time, after the minute, records cg1
    wecom.clock.advance(61)
    run(wecom, local("08:15"))
    assert status(tenant, "cg1")["cg1"] == ("sent", None)


def test_a_task_wecom_does_not_know_fails_its_groups_with_the_reason(tenant, wecom):
    # GIVEN a task WeCom no longer knows (an invalid msgid)
    msgid = create_tasks(tenant, wecom)["zhang"]
    del wecom.tasks[msgid]
    # WHEN the job runs
    summary = run(wecom, local("08:15"))
    # THEN each group is failed, saying why, and leaves the index; nothing is retried
    found = DeliveryRepository().get(tenant.tenant_id, "cg1", DAY, MORNING.push_id)
    assert (found.status.value, found.reason) == ("failed", "task_refused") and found.error.startswith("40058")
    assert summary["errors"] == 1 and summary["failed"] == 3 and waiting(tenant) == {}


def test_a_reset_corp_secret_keeps_groups_waiting_until_stale_then_fails_them(tenant, wecom):
    # GIVEN a task, and the corp's secret reset by an administrator
    create_tasks(tenant, wecom)
    wecom.reset_secret("corp-1")
    # WHEN the job runs before noon, then at noon
    before = run(wecom, local("11:00"))
    assert status(tenant, "cg1")["cg1"] == ("awaiting_owner", None) and before["errors"] == 1
    assert wecom.calls("remind_groupmsg_send") == 0
    run(wecom, STALE)
    # THEN the groups are failed: the task could not be cancelled, so the owner may still send it
    found = DeliveryRepository().get(tenant.tenant_id, "cg1", DAY, MORNING.push_id)
    assert (found.status.value, found.reason) == ("failed", "cancel_failed") and found.error.startswith("40001")


def test_an_expired_token_is_fetched_again_once(tenant, wecom):
    # GIVEN a task and a token the job fetched on its first run
    create_tasks(tenant, wecom)
    customer = client(wecom)
    run_deps = {"customer_groups": lambda: customer}
    run(wecom, local("08:15"), **run_deps)
    fetched = wecom.gettoken_calls
    # WHEN WeCom expires the token (42001) before the next run
    wecom.expire_tokens()
    run(wecom, local("09:15"), **run_deps)
    # THEN the run fetched one new token and reminded the owner
    assert wecom.gettoken_calls == fetched + 1 and len(wecom.reminded) == 1


def test_a_run_short_of_time_starts_no_task(tenant, wecom):
    # GIVEN a task, and a run with 10 seconds left (less than one task may take)
    from support import FakeContext

    context = FakeContext(remaining_ms=10_000)
    create_tasks(tenant, wecom)
    calls = len(wecom.requests)
    # WHEN the job runs
    summary = process({"scheduled_time": "2026-11-27T00:15:00Z"}, context, deps=deps(wecom))
    # THEN it stopped before calling WeCom, and left the task for the next run
    assert summary["stopped_early"] == 1 and len(wecom.requests) == calls
    assert status(tenant, "cg1")["cg1"] == ("awaiting_owner", None)


def test_an_entry_left_by_a_sender_that_stopped_mid_handover_is_dropped_with_its_record_unchanged(tenant, wecom):
    # GIVEN a farewell to cg9 whose sender created li's task, entered the group in the index and stopped before
    # its record said awaiting_owner
    msgid = client(wecom).add_msg_template(wecom_corp(), "li", ["wr9"], "感谢大家的陪伴").data.msgid
    record = Delivery.of(tenant.tenant_id, "cg9", DAY, Push.farewell(), "wecom_customer_group", Status.planned,
                         CREATED)
    repo, claims = DeliveryRepository(), DeliveryClaims(claim_lease(60))
    assert repo.add(record) and claims.claim(record, "tok", CREATED).state == "claimed"
    repo.await_owner(msgid, [record], CREATED)
    # AND the next attempt, past the claim's lease, recorded the push failed: nobody knows what the group got
    assert claims.finish(record, "tok", Status.failed, CREATED + timedelta(minutes=5), reason="unknown_after_crash")
    assert waiting(tenant) == {msgid: ["cg9"]}
    # WHEN the job runs after the task went stale (twice)
    run(wecom, CREATED + timedelta(hours=25))
    run(wecom, CREATED + timedelta(hours=25, minutes=15))
    # THEN the task is gone from the index and the record still says what the retry found, not `cancelled`
    assert waiting(tenant) == {}
    with pytest.raises(WaitingTaskItem.DoesNotExist):
        WaitingTaskItem.get(waiting_pk(tenant.tenant_id, msgid), "WAIT", consistent_read=True)
    assert status(tenant, "cg9", push=Push.farewell()) == {"cg9": ("failed", "unknown_after_crash")}


def test_a_task_of_records_of_different_pushes_is_refused_and_nothing_written(tenant):
    # GIVEN a morning brief and a farewell, as if one task had been made for both
    repo, msgid = DeliveryRepository(), "msg-mixed-" + tenant.tenant_id
    records = [Delivery.of(tenant.tenant_id, g, DAY, push, "wecom_customer_group", Status.planned, CREATED)
               for g, push in (("cg1", MORNING), ("cg2", Push.farewell()))]
    # WHEN the task is entered for them
    with pytest.raises(ValueError, match="not of one tenant, date and push"):
        repo.await_owner(msgid, records, CREATED)
    # THEN nothing waits in the index
    with pytest.raises(WaitingTaskItem.DoesNotExist):
        WaitingTaskItem.get(waiting_pk(tenant.tenant_id, msgid), "WAIT", consistent_read=True)


def test_a_task_of_2000_groups_with_the_longest_ids_is_one_item(tenant):
    # GIVEN an owner's 2,000 customer groups, each id as long as a group id may be (128 characters)
    repo, msgid = DeliveryRepository(), "msg-big-" + tenant.tenant_id
    ids = [f"{n:04d}" + "g" * 124 for n in range(2000)]
    records = [Delivery.of(tenant.tenant_id, g, DAY, MORNING, "wecom_customer_group", Status.planned, CREATED)
               for g in ids]
    # WHEN the task is entered (DynamoDB refuses an item over 400 KB)
    repo.await_owner(msgid, records, CREATED)
    # THEN it lists them all; and it leaves the index when the last one is settled, not before
    assert [t.records for t in repo.awaiting_owner() if t.msgid == msgid][0][0].message_ids == [msgid]
    repo.settle_waiting(tenant.tenant_id, msgid, ids[:1999])
    assert WaitingTaskItem.get(waiting_pk(tenant.tenant_id, msgid), "WAIT", consistent_read=True).waiting == {ids[-1]}
    repo.settle_waiting(tenant.tenant_id, msgid, ids[1999:])
    repo.settle_waiting(tenant.tenant_id, msgid, ids[1999:])  # a second run settling it again changes nothing
    with pytest.raises(WaitingTaskItem.DoesNotExist):
        WaitingTaskItem.get(waiting_pk(tenant.tenant_id, msgid), "WAIT", consistent_read=True)
