"""SendPushes on DynamoDB Local against the fake WeCom robot: one delivery per group, date and edition however
often a message arrives, no second send after a crash between the send and its record, transient failures
handed back to the queue as partial batch failures, permanent ones marking the channel broken, and a template
error stopping only its own group."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fakes.wecom_customer_group import FakeWecomCustomerGroups
from fakes.wecom_robot import FakeWecomRobot
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import CLAIM, DAY_SHARDS, STATUS, DeliveryRepository, page_pk
from qunyun.adapters.delivery_claims import DeliveryClaims
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.outbox import MemoryOutbox, Outbox
from qunyun.channels.wecom_customer_group import WecomCustomerGroups
from qunyun.channels.wecom_robot import WecomRobot
from qunyun.domain.briefs import DIALECTS, parse_brief
from qunyun.domain.deliveries import Status
from qunyun.domain.groups import Channel
from qunyun.domain.push_messages import parse_push
from qunyun.domain.quota import Push
from qunyun.services.deliveries import plan_push
from qunyun.services.groups import import_groups
from qunyun.services.push_job import RetryLater, claim_lease
from qunyun.services.push_send import send_message
from qunyun.services.send_deps import SendDeps
from send_pushes import Deps, process
from stream_support import deliver_streams

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 0, 0, 5, tzinfo=UTC)
LEASE = claim_lease(60)
MORNING = Push.brief("morning").push_id


def robot_row(group_id: str) -> str:
    return f"{group_id},群 {group_id},welfare,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-{group_id},,,,,,,,,,"  # noqa: E501


class Clock:
    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RetryQueue:
    """The queue as SendPushes sees it: records the retry-after asked for each receipt handle."""

    def __init__(self):
        self.hidden: dict[str, float] = {}

    def retry_after(self, receipt_handle: str, seconds: float) -> None:
        self.hidden[receipt_handle] = seconds


@pytest.fixture
def robot():
    with FakeWecomRobot() as fake:
        for g in ("a", "b", "c"):
            fake.add_robot(f"k-{g}")
        yield fake


@pytest.fixture
def shop(tenant):
    rows = [robot_row("a"), robot_row("b"), robot_row("c"), "out,外部群,traffic,outbox,,,,,,,,,,,"]
    import_groups(tenant.tenant_id, "\n".join([HEADER, *rows]), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    write_brief(tenant.tenant_id, DAY)
    return tenant


def write_brief(tenant_id: str, day: date) -> None:
    brief = parse_brief({"date": str(day), "edition": "morning", "title": "早安",
                         "sections": [{"kind": "tip", "text": "泡绿茶水温 80°C 最佳"}]})
    ContentRepository().put_brief(tenant_id, brief, NOW)


@pytest.fixture
def outbox():
    return MemoryOutbox()


def make_deps(robot, outbox, clock=None, **extra) -> SendDeps:
    senders = {"wecom_robot": WecomRobot(robot.base_url, timeout=5.0), "outbox": Outbox(outbox)}
    return SendDeps(**{"tenants": TenantRepository(), "groups": GroupRepository(), "content": ContentRepository(),
                       "deliveries": DeliveryRepository(), "ledger": PointsLedger(), "secrets": secret_store(),
                       "claims": DeliveryClaims(LEASE), "channel": senders.__getitem__,
                       "customer_groups": lambda: None, "clock": clock or Clock(), **extra})


def body(shop, *groups: str, day: date = DAY) -> dict:
    return {"tenant_id": shop.tenant_id, "edition": "morning", "date": str(day), "group_ids": list(groups)}


def handler_deps(send: SendDeps, queue) -> Deps:
    """SendPushes' dependencies around `send`: the queue's 5 receives, a channel call's 10 seconds at most."""
    return Deps(send, queue, max_receives=5, channel_timeout_seconds=10.0)


def send_body(body: dict, **kwargs) -> None:
    """`send_message` for a queue body, parsed as SendPushes parses it."""
    send_message(parse_push(body), **kwargs)


def record(shop, group_id: str, day: date = DAY):
    return DeliveryRepository().get(shop.tenant_id, group_id, day, MORNING)


def claim_tokens(shop, group_ids: list[str]) -> set[str]:
    """The claim tokens the groups' morning records hold as stored."""
    return {DeliveryRepository().day(shop.tenant_id, g, DAY, as_stored=True).records[MORNING][CLAIM]
            for g in group_ids}


def sqs_event(*bodies: dict, receive_count: int = 1) -> dict:
    """An SQS event as Lambda's event source mapping delivers it (the documented record shape)."""
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": f"rh-{i}", "body": json.dumps(b),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1764201600000",
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1764201600000"},
        "messageAttributes": {}, "md5OfBody": "0" * 32, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:qunyun-test-briefs", "awsRegion": "us-east-1",
    } for i, b in enumerate(bodies)]}


def test_a_duplicate_message_delivers_once(shop, robot, outbox, context):
    deps = make_deps(robot, outbox)
    # GIVEN the same message delivered twice by SQS, once in one batch and once more later
    event = sqs_event(body(shop, "a"), body(shop, "a"))
    # WHEN SendPushes handles both, then the message a third time
    assert process(event, context, deps=handler_deps(deps, RetryQueue())) == {"batchItemFailures": []}
    assert process(sqs_event(body(shop, "a")), context, deps=handler_deps(deps, RetryQueue())) == {
        "batchItemFailures": []}
    # THEN the robot received the brief once and the record says sent, with one attempt
    assert [r.key for r in robot.received] == ["k-a"]
    assert robot.received[0].content.startswith("## 早安")
    sent = record(shop, "a")
    assert (sent.status, sent.attempts, sent.sent_at is not None) == ("sent", 1, True)


class Running:
    """An invocation's context whose time left runs down: `left` seconds at each successive look."""

    def __init__(self, *left: float):
        from support import FakeContext

        self.context, self.left = FakeContext(), list(left)

    def __getattr__(self, name):
        return getattr(self.context, name)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.left.pop(0) if len(self.left) > 1 else self.left[0]) * 1000)


def test_messages_are_not_started_without_time_for_their_send_and_come_back_at_once(shop, robot, outbox):
    deps, queue = make_deps(robot, outbox), RetryQueue()
    # GIVEN a batch of three messages handled by an invocation with 60 seconds left at the first, then 9.5
    # (less than a channel call may take: 10 seconds)
    event = sqs_event(body(shop, "a"), body(shop, "b"), body(shop, "c"))
    result = process(event, Running(60, 9.5), deps=handler_deps(deps, queue))
    # THEN the first is sent, the other two are handed back visible at once, and nothing of them is recorded
    assert [r.key for r in robot.received] == ["k-a"]
    assert result == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"][1:]]}
    assert queue.hidden == {"rh-1": 0, "rh-2": 0}
    assert record(shop, "b") is None and record(shop, "c") is None
    # AND on the queue's last receive a message is tried however little time is left (deferring it would move it
    # to the dead-letter queue unrecorded)
    last = process(sqs_event(body(shop, "b"), receive_count=5), Running(9.5), deps=handler_deps(deps, RetryQueue()))
    assert last == {"batchItemFailures": []} and record(shop, "b").status == "sent"


def test_a_crash_after_the_send_and_before_the_record_never_sends_again(shop, robot, outbox):
    # GIVEN a sender that stops right after the robot accepted the brief, before it records the outcome (as a
    # Lambda timing out or its process dying would)
    def crash(group_id, result):
        raise SystemExit("the execution environment stopped")

    clock = Clock()
    with pytest.raises(SystemExit):
        send_body(body(shop, "a"), deps=make_deps(robot, outbox, clock, after_send=crash))
    assert len(robot.received) == 1 and record(shop, "a").status == "planned"
    # WHEN SQS hands the message back while the crashed sender's claim is still within its lease
    clock.now = NOW + LEASE / 2
    with pytest.raises(RetryLater):
        send_body(body(shop, "a"), deps=make_deps(robot, outbox, clock))
    # AND again after the lease, when that sender cannot still be running
    clock.now = NOW + LEASE + timedelta(seconds=1)
    send_body(body(shop, "a"), deps=make_deps(robot, outbox, clock))
    # THEN the robot has still received it once: the record says nobody knows, rather than risk a second copy
    assert len(robot.received) == 1
    found = record(shop, "a")
    assert (found.status, found.reason) == ("failed", "unknown_after_crash")
    # AND a further copy of the message changes nothing
    send_body(body(shop, "a"), deps=make_deps(robot, outbox, clock))
    assert len(robot.received) == 1


def test_after_a_crash_the_outbox_is_sent_again_with_the_same_key_and_keeps_one_entry(shop, robot, outbox):
    # GIVEN the same crash on an outbox group, whose store drops an entry id it already holds
    def crash(group_id, result):
        raise SystemExit("the execution environment stopped")

    clock = Clock()
    with pytest.raises(SystemExit):
        send_body(body(shop, "out"), deps=make_deps(robot, outbox, clock, after_send=crash))
    # WHEN the message comes back after the lease
    clock.now = NOW + LEASE + timedelta(seconds=1)
    send_body(body(shop, "out"), deps=make_deps(robot, outbox, clock))
    # THEN it was sent again under the same key, the outbox holds one entry and the record says sent
    assert len(outbox.entries) == 1 and outbox.entries[0]["key"].startswith(f"brief:{DAY}:morning:")
    assert record(shop, "out").status == "sent"


def test_a_rate_limited_group_comes_back_as_a_partial_batch_failure(shop, robot, outbox, context):
    # GIVEN a robot answering 45009 (rate limited) for a minute, and a batch of a robot group and an outbox group
    robot.throttle(60)
    event = sqs_event(body(shop, "b"), body(shop, "out"))
    queue = RetryQueue()
    # WHEN SendPushes handles the batch
    response = process(event, context, deps=handler_deps(make_deps(robot, outbox), queue))
    # THEN only the robot group's message is reported back, hidden for the platform's minute
    first, second = event["Records"]
    assert response == {"batchItemFailures": [{"itemIdentifier": first["messageId"]}]}
    assert queue.hidden == {first["receiptHandle"]: 60}
    assert record(shop, "out").status == "sent"
    held = record(shop, "b")
    assert (held.status, held.error) == ("planned", "45009")
    # WHEN it comes back after the minute
    robot.clock.advance(61)
    response = process(sqs_event(body(shop, "b"), receive_count=2), context,
                       deps=handler_deps(make_deps(robot, outbox), queue))
    # THEN the robot receives it once and the record counts both attempts
    assert response == {"batchItemFailures": []}
    assert [r.key for r in robot.received] == ["k-b"]
    assert (record(shop, "b").status, record(shop, "b").attempts) == ("sent", 2)


def test_the_last_receive_records_the_failure_instead_of_retrying(shop, robot, outbox, context):
    # GIVEN a robot that keeps failing with 503, and the message's fifth receive (the queue's maxReceiveCount)
    robot.fail_http(503, seconds=3600)
    # WHEN SendPushes handles it
    response = process(sqs_event(body(shop, "c"), receive_count=5), context,
                       deps=handler_deps(make_deps(robot, outbox), RetryQueue()))
    # THEN it is not handed back, and the record says the retries ran out
    assert response == {"batchItemFailures": []}
    found = record(shop, "c")
    assert (found.status, found.reason) == ("failed", "retries_exhausted")


def test_a_revoked_robot_marks_the_group_broken_and_later_briefs_skip_it(shop, robot, outbox):
    # GIVEN a robot removed from its group
    robot.revoke("k-c")
    # WHEN its brief is sent
    send_body(body(shop, "c"), deps=make_deps(robot, outbox))
    # THEN the record is failed with the platform's code, the group is marked broken, nothing is retried
    found = record(shop, "c")
    assert (found.status, found.reason) == ("failed", "channel_broken") and found.error.startswith("93000")
    assert GroupRepository().get_many(shop.tenant_id, ["c"])["c"][1] == "93000"
    # AND the next day's brief is skipped without calling the robot
    calls = len(robot.requests)
    next_day = DAY + timedelta(days=1)
    write_brief(shop.tenant_id, next_day)
    send_body(body(shop, "c", day=next_day), deps=make_deps(robot, outbox))
    skipped = record(shop, "c", next_day)
    assert (skipped.status, skipped.reason) == ("skipped", "channel_broken") and len(robot.requests) == calls


def test_a_template_error_stops_only_its_own_group(shop, robot, outbox, context):
    # GIVEN a tenant template for WeCom markdown that fails on this brief (it has no news to divide by)
    dialect = DIALECTS[Channel.wecom_robot]
    ContentRepository().put_template(shop.tenant_id, "morning", dialect,
                                     "{{ 1 // (sections | selectattr('kind', 'eq', 'news') | list | length) }}", NOW)
    # WHEN a batch of a robot group and an outbox group is sent
    response = process(sqs_event(body(shop, "a"), body(shop, "out")), context,
                       deps=handler_deps(make_deps(robot, outbox), RetryQueue()))
    # THEN the robot group is recorded failed with the reason, nothing reached it, and nothing is retried
    assert response == {"batchItemFailures": []}
    failed = record(shop, "a")
    assert (failed.status, failed.reason) == ("failed", "render_error") and "ZeroDivisionError" in failed.error
    assert robot.received == []
    # AND the other group received its brief
    assert record(shop, "out").status == "sent" and len(outbox.entries) == 1
    # AND the failed group spent none of its day's pushes
    assert DeliveryRepository().spent(shop.tenant_id, "a", DAY, None).day == 0


@pytest.fixture
def wecom(shop):
    """A fake WeCom with the tenant's corp, owner zhang of chats wr1-wr3, and customer groups cg1-cg4 (cg4's
    chat is not his)."""
    with FakeWecomCustomerGroups() as fake:
        fake.add_corp("corp-1", "s3cret")
        fake.add_owner("zhang", ["wr1", "wr2", "wr3"])
        rows = [f"cg{i},客户群 {i},traffic,wecom_customer_group,,,zhang,wr{i},,,,,,," for i in range(1, 5)]
        import_groups(shop.tenant_id, "\n".join([HEADER, *rows]), tenants=TenantRepository(),
                      groups=GroupRepository(), secrets=secret_store())
        secret_store().put_many({f"{shop.tenant_id}/wecom/corp_id": "corp-1",
                                 f"{shop.tenant_id}/wecom/corp_secret": "s3cret"})
        yield fake


def customer_deps(robot, outbox, wecom, clock=None, **extra) -> SendDeps:
    deps = make_deps(robot, outbox, clock, **extra)
    customer = WecomCustomerGroups(wecom.base_url, timeout=5.0)
    deps.customer_groups = lambda: customer
    return deps


def test_an_owners_customer_groups_get_one_mass_send_task_and_a_duplicate_creates_none(shop, robot, outbox, wecom):
    # GIVEN three customer groups of one owner, the tenant's corp credentials, and a fourth chat not his
    deps = customer_deps(robot, outbox, wecom)
    message = {**body(shop, "cg1", "cg2", "cg3", "cg4"), "owner": "zhang"}
    # WHEN SendPushes handles the owner's message, and then the same message again
    send_body(message, deps=deps)
    send_body(message, deps=deps)
    # THEN one task asks the owner to send it to his groups; each group awaits his confirmation
    assert len(wecom.tasks) == 1
    task = next(iter(wecom.tasks.values()))
    assert (task.sender, sorted(task.chat_ids)) == ("zhang", ["wr1", "wr2", "wr3"])
    for g in ("cg1", "cg2", "cg3"):
        found = record(shop, g)
        assert (found.status, found.message_ids) == ("awaiting_owner", [task.msgid])
    # AND the chat WeCom refused is recorded failed, saying so
    assert (record(shop, "cg4").status, record(shop, "cg4").reason) == ("failed", "wecom_refused")


def test_an_owner_message_failing_to_plan_a_group_gives_back_the_claims_planned_together(shop, robot, outbox, wecom,
                                                                                         monkeypatch):
    from qunyun.services import push_job

    # GIVEN cg3's day has a reminder recorded already (so it is planned alone, after cg1 and cg2 are planned
    # together), and planning it alone fails once
    deps = customer_deps(robot, outbox, wecom)
    tenant = TenantRepository().get(shop.tenant_id)
    cg3 = GroupRepository().get(shop.tenant_id, "cg3")
    plan_push(tenant, cg3, Push.reminder("live", "1h"), DAY, deliveries=DeliveryRepository(), now=NOW)
    plan = push_job.PushJob.plan

    def failing(job, group, known):
        if group.group_id == "cg3":
            raise ConnectionError("DynamoDB could not be reached")
        return plan(job, group, known)

    monkeypatch.setattr(push_job.PushJob, "plan", failing)
    # WHEN the owner's message for cg1-cg3 is handled
    with pytest.raises(ConnectionError):
        send_body({**body(shop, "cg1", "cg2", "cg3"), "owner": "zhang"}, deps=deps)
    # THEN no task was created, and cg1's and cg2's claims were given back (never sent: not left to look like a
    # crash, which would end them unknown_after_crash)
    assert wecom.tasks == {}
    for g in ("cg1", "cg2"):
        stored = DeliveryRepository().day(shop.tenant_id, g, DAY).records[MORNING]
        assert (stored[STATUS], stored.get(CLAIM), stored.get("x")) == ("planned", None, "before_send")
    # AND the retry, planning cg3 without the fault, creates one task for all three
    monkeypatch.setattr(push_job.PushJob, "plan", plan)
    send_body({**body(shop, "cg1", "cg2", "cg3"), "owner": "zhang"}, deps=deps)
    (task,) = wecom.tasks.values()
    assert sorted(task.chat_ids) == ["wr1", "wr2", "wr3"]
    assert all(record(shop, g).status == "awaiting_owner" for g in ("cg1", "cg2", "cg3"))


def test_an_owner_message_meeting_a_busy_group_gives_back_the_claims_it_took(shop, robot, outbox, wecom):
    # GIVEN cg2's task created by a sender that stopped before recording it (its claim still fresh)
    def crash(owner, result):
        raise SystemExit("the execution environment stopped")

    clock = Clock()
    with pytest.raises(SystemExit):
        send_body({**body(shop, "cg2"), "owner": "zhang"}, deps=customer_deps(robot, outbox, wecom, clock,
                                                                                after_send=crash))
    # WHEN a message for cg1 and cg2 arrives meanwhile
    with pytest.raises(RetryLater):
        send_body({**body(shop, "cg1", "cg2"), "owner": "zhang"}, deps=customer_deps(robot, outbox, wecom, clock))
    # THEN no task was created for cg1 and its claim was given back, not left to look like a crash
    assert len(wecom.tasks) == 1
    stored = DeliveryRepository().day(shop.tenant_id, "cg1", DAY).records[MORNING]
    assert (stored[STATUS], stored.get(CLAIM)) == ("planned", None)
    # AND after the stopped sender's lease the retry sends cg1 its task and records cg2's outcome as unknown
    clock.now = NOW + LEASE + timedelta(seconds=1)
    send_body({**body(shop, "cg1", "cg2"), "owner": "zhang"}, deps=customer_deps(robot, outbox, wecom, clock))
    assert len(wecom.tasks) == 2 and record(shop, "cg1").status == "awaiting_owner"
    assert (record(shop, "cg2").status, record(shop, "cg2").reason) == ("failed", "unknown_after_crash")


def test_an_ended_group_gets_no_more_briefs(shop, robot, outbox):
    from qunyun.adapters.tables import GroupItem

    # GIVEN a group that ended after its brief was dispatched
    GroupItem(shop.tenant_id, "b").update(actions=[GroupItem.status.set("ended")])
    # WHEN the message reaches SendPushes
    send_body(body(shop, "b"), deps=make_deps(robot, outbox))
    # THEN nothing is sent and the record says why, spending none of the group's pushes
    found = record(shop, "b")
    assert (found.status, found.reason) == ("skipped", "group_ended")
    assert robot.received == []


# ---- what a batch reads ----------------------------------------------------------------------------------
def checkin_yesterday(tenant, member: str, group_id: str, nickname: str) -> None:
    from qunyun.domain.events import PointsEvent
    from qunyun.services.points import apply_event

    tenant = TenantRepository().get(tenant.tenant_id)
    at = NOW - timedelta(hours=12)  # 20:05 of the day before DAY, in Asia/Shanghai
    event = PointsEvent(event_id=f"ci-{member}", type="checkin", member_id=member, group_id=group_id,
                        occurred_at=at, nickname=nickname)
    apply_event(tenant, event, ledger=PointsLedger(), now=at)


def send_batch_counting(shop, robot, outbox, context, bodies: list[dict] | None = None) -> tuple[dict, dict]:
    from support import DynamoCalls, dynamodb_clients

    deps = make_deps(robot, outbox)
    clients = dynamodb_clients([deps.ledger._connection.client])
    bodies = bodies or [body(shop, "a"), body(shop, "b"), body(shop, "c")]
    with DynamoCalls(clients) as seen:
        result = process(sqs_event(*bodies), context, deps=handler_deps(deps, RetryQueue()))
    return result, dict(seen.calls)


def test_a_batch_reads_its_groups_ahead_a_window_at_a_time(shop, robot, outbox, context, monkeypatch):
    from qunyun.services import read_ahead

    # GIVEN a read-ahead window of 2 groups, and a batch of messages for groups a, b and c, the first also
    # naming a group that is not registered
    monkeypatch.setattr(read_ahead, "READ_AHEAD_GROUPS", 2)
    result, calls = send_batch_counting(shop, robot, outbox, context,
                                        [body(shop, "a", "gone"), body(shop, "b"), body(shop, "c")])
    # THEN all three are sent; the first message was read alone (it fills the window), b and c together
    assert result == {"batchItemFailures": []} and {r.key for r in robot.received} == {"k-a", "k-b", "k-c"}
    assert calls["BatchGetItem:groups"] == 2 and calls["BatchGetItem:deliveries"] == 2, calls
    assert "GetItem:deliveries" not in calls and "GetItem:groups" not in calls, calls


@pytest.mark.parametrize("boards_built", [False, True], ids=["before SettlePoints", "after SettlePoints"])
def test_a_batch_reads_what_its_messages_share_once_and_each_record_once(shop, robot, outbox, context,
                                                                         boards_built):
    from points_support import OnlyTenants
    from qunyun.services.settle import settle

    # GIVEN two members of group a checked in yesterday, and (or not yet) SettlePoints built yesterday's boards
    for member, nick in (("u1", "小美"), ("u2", "阿强")):
        checkin_yesterday(shop, member, "a", nick)
    deliver_streams()  # the day's pages, as PageEarnings writes them a batching window later
    if boards_built:
        settle(NOW - timedelta(hours=6), ledger=PointsLedger(), tenants=OnlyTenants(shop.tenant_id),
               job_name=f"boards-{uuid.uuid4().hex[:6]}")
    # WHEN one batch brings the messages of robot groups a, b and c
    result, calls = send_batch_counting(shop, robot, outbox, context)
    # THEN each group got its brief, a's with yesterday's two members, b's and c's without a board
    assert result == {"batchItemFailures": []}
    texts = {r.key: r.content for r in robot.received}
    assert "小美" in texts["k-a"] and "阿强" in texts["k-a"]
    assert "小美" not in texts["k-b"] and "小美" not in texts["k-c"]
    assert all(record(shop, g).status == "sent" for g in "abc")
    # AND the tenant, the brief and the edition's template overrides were read once for the batch ...
    assert calls["GetItem:tenants"] == 1 and calls["GetItem:content"] == 1 and calls["Query:content"] == 1, calls
    # ... yesterday's boards: the day's earnings once for the three groups, or, once built, each group's stored
    # board (the mark that they are built read once)
    if boards_built:
        assert "Query:points" not in calls and calls["GetItem:points"] == 1 + 3, calls
    else:
        assert calls["Query:points"] == 1 and calls["GetItem:points"] == 1, calls
    # ... the three groups and their days were read ahead, one request each for the batch; each brief was
    # planned, claimed and its slot spent in one write (its day's first: a put), and the three outcomes were
    # written as one item, the batch's outcome page, at the batch's end
    assert calls["BatchGetItem:groups"] == 1 and calls["BatchGetItem:deliveries"] == 1, calls
    assert "GetItem:deliveries" not in calls and "GetItem:groups" not in calls, calls
    assert calls["PutItem:deliveries"] == 3 + 1 and "BatchExecuteStatement:deliveries" not in calls, calls
    assert "UpdateItem:deliveries" not in calls, calls
    assert "TransactWriteItems:deliveries" not in calls, calls


def test_a_later_batch_reads_the_days_earlier_outcome_pages_in_one_request(shop, robot, outbox, context):
    # GIVEN groups a, b and c sent their morning briefs in one batch (their outcomes on its page)
    assert send_batch_counting(shop, robot, outbox, context)[0] == {"batchItemFailures": []}
    # WHEN a later batch brings their evening messages (no evening brief was written: each is skipped)
    evening = [{**body(shop, g), "edition": "evening"} for g in "abc"]
    result, calls = send_batch_counting(shop, robot, outbox, context, evening)
    # THEN the days read ahead came with the morning's page, read by key in one more request, no query
    assert result == {"batchItemFailures": []}
    assert calls["BatchGetItem:deliveries"] == 2 and "Query:deliveries" not in calls, calls
    repo = DeliveryRepository()
    assert {repo.get(shop.tenant_id, g, DAY, "brief.evening").reason for g in "abc"} == {"no_brief"}
    assert all(record(shop, g).status == "sent" for g in "abc")


class SecretsDown:
    """The secret store failing to answer (SSM throttled, say), then answering again."""

    def __init__(self, real):
        self.real, self.down = real, True

    def __getattr__(self, name):
        return getattr(self.real, name)

    def get(self, ref):
        if self.down:
            raise ConnectionError("the secret store did not answer")
        return self.real.get(ref)


def test_a_failure_before_the_channel_is_called_gives_the_claim_back_and_the_retry_sends(shop, robot, outbox):
    # GIVEN the secret store failing when SendPushes looks up group a's webhook, after the push was planned
    secrets = SecretsDown(secret_store())
    with pytest.raises(ConnectionError):
        send_body(body(shop, "a"), deps=make_deps(robot, outbox, secrets=secrets))
    # THEN nothing was sent and the record is planned with nobody's claim on it
    stored = DeliveryRepository().day(shop.tenant_id, "a", DAY).records[MORNING]
    assert not robot.received and (stored[STATUS], stored.get(CLAIM), stored["a"]) == ("planned", None, 1)
    # WHEN SQS hands the message back (within the lease a crashed sender's claim would hold) and the store answers
    secrets.down = False
    send_body(body(shop, "a"), deps=make_deps(robot, outbox, Clock(NOW + timedelta(seconds=40)), secrets=secrets))
    # THEN the robot receives the brief once, on the second attempt
    assert [r.key for r in robot.received] == ["k-a"]
    assert (record(shop, "a").status, record(shop, "a").attempts) == ("sent", 2)


def test_a_failure_reading_the_corp_gives_every_claim_back_and_the_retry_creates_the_task(shop, robot, outbox,
                                                                                          wecom):
    # GIVEN the secret store failing when SendPushes reads the tenant's WeCom corp, after cg1 and cg2 were planned
    secrets = SecretsDown(secret_store())
    message = {**body(shop, "cg1", "cg2"), "owner": "zhang"}
    with pytest.raises(ConnectionError):
        send_body(message, deps=customer_deps(robot, outbox, wecom, secrets=secrets))
    # THEN no task was created and both records are planned with nobody's claim on them
    assert not wecom.tasks
    for group_id in ("cg1", "cg2"):
        stored = DeliveryRepository().day(shop.tenant_id, group_id, DAY).records[MORNING]
        assert (stored[STATUS], stored.get(CLAIM)) == ("planned", None)
    # WHEN the message comes back within a claim's lease and the store answers
    secrets.down = False
    send_body(message, deps=customer_deps(robot, outbox, wecom, Clock(NOW + timedelta(seconds=40)),
                                             secrets=secrets))
    # THEN one task covers both groups, which await their owner
    assert len(wecom.tasks) == 1
    assert {record(shop, g).status for g in ("cg1", "cg2")} == {Status.awaiting_owner}


def test_every_write_of_a_groups_day_costs_one_write_unit(shop, robot, outbox, ddb):
    from qunyun.adapters.deliveries import day_key
    from support import STACK, dynamodb_clients, write_units

    # GIVEN DynamoDB's consumed capacity asked for on every write
    units: list[float] = []

    def ask(params, model, **_):
        params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def seen(parsed, model, **_):
        if model.name in ("PutItem", "UpdateItem"):
            units.append(parsed["ConsumedCapacity"]["CapacityUnits"])

    def day_item() -> dict:
        pk, sk = day_key(shop.tenant_id, DAY, "a")
        return ddb.get_item(TableName=f"{STACK}-deliveries", Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]

    deps = make_deps(robot, outbox)
    clients = dynamodb_clients()
    for c in clients:
        c.meta.events.register("provide-client-params.dynamodb", ask)
        c.meta.events.register("after-call.dynamodb", seen)
    try:
        # WHEN group a gets its morning brief, a farewell (a long platform message id) and an evening skip
        send_body(body(shop, "a"), deps=deps)
        after_brief = day_item()
        repo, claims, now = DeliveryRepository(), deps.claims, NOW
        farewell = Push.farewell()
        group = GroupRepository().get(shop.tenant_id, "a")
        planned, claimed = plan_push(TenantRepository().get(shop.tenant_id), group, farewell, DAY,
                                     deliveries=repo, now=now, claim="tok")
        assert claimed and claims.finish(planned, "tok", Status.sent, now, message_ids=["om_" + "f" * 60])
        skipped, _ = plan_push(TenantRepository().get(shop.tenant_id), group, Push.brief("evening"), DAY,
                               deliveries=repo, now=now)
    finally:
        for c in clients:
            c.meta.events.unregister("provide-client-params.dynamodb", ask)
            c.meta.events.unregister("after-call.dynamodb", seen)
    # THEN the day holds three records and each of its writes cost one unit: it stays under 1 KB. The brief's
    # outcome went on the batch's outcome page, a put of one unit too
    assert (skipped.status, skipped.reason) == (Status.skipped, "daily_cap")
    assert len(repo.day(shop.tenant_id, "a", DAY).records) == 3
    assert units == [1.0] * 5, units
    assert write_units(after_brief) == write_units(day_item()) == 1


def test_a_crash_in_a_batch_leaves_its_sent_groups_unknown_and_sends_none_again(shop, robot, outbox, context):
    # GIVEN a batch for robot groups a, b and c whose environment dies right after c's send: a's and b's
    # outcomes were waiting to be written with the batch's
    def crash(group_id, result):
        if group_id == "c":
            raise SystemExit("the execution environment stopped")

    clock = Clock()
    event = sqs_event(body(shop, "a"), body(shop, "b"), body(shop, "c"))
    with pytest.raises(SystemExit):
        process(event, context, deps=handler_deps(make_deps(robot, outbox, clock, after_send=crash), RetryQueue()))
    assert sorted(r.key for r in robot.received) == ["k-a", "k-b", "k-c"]
    assert {record(shop, g).status for g in "abc"} == {"planned"}
    # WHEN SQS hands the batch back after the claims' lease
    clock.now = NOW + LEASE + timedelta(seconds=1)
    assert process(event, context, deps=handler_deps(make_deps(robot, outbox, clock), RetryQueue())) == {
        "batchItemFailures": []}
    # THEN no group received a second copy; each is recorded as nobody knows
    assert sorted(r.key for r in robot.received) == ["k-a", "k-b", "k-c"]
    assert {(record(shop, g).status, record(shop, g).reason) for g in "abc"} == {("failed", "unknown_after_crash")}


def test_a_batchs_outcomes_are_written_25_at_a_time_and_the_rest_at_its_end(shop, robot, outbox, context):
    from support import DynamoCalls, dynamodb_clients

    # GIVEN 30 outbox groups, and a batch of one message each
    rows = [f"o{n},外部群 {n},traffic,outbox,,,,,,,,,,," for n in range(30)]
    import_groups(shop.tenant_id, "\n".join([HEADER, *rows]), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    deps = make_deps(robot, outbox)
    # WHEN SendPushes handles it, counting at each outcome page written the briefs the outbox had received
    seen_at: list[tuple[int, int]] = []
    pages: list[str] = []
    clients = dynamodb_clients()

    def count(params, **_):
        if "#~out#" in params["Item"]["pk"]["S"]:
            seen_at.append((len(outbox.entries), len(params["Item"]["outcomes"]["M"])))
            pages.append(params["Item"]["pk"]["S"])

    with DynamoCalls(clients) as seen:
        for c in clients:
            c.meta.events.register("provide-client-params.dynamodb.PutItem", count)
        try:
            result = process(sqs_event(*[body(shop, f"o{n}") for n in range(30)]), context,
                             deps=handler_deps(deps, RetryQueue()))
        finally:
            for c in clients:
                c.meta.events.unregister("provide-client-params.dynamodb.PutItem", count)
    # THEN all 30 were sent and recorded, on two pages: 25 after the 25th send, and 5 at the batch's end; no
    # record's day was written again
    assert result == {"batchItemFailures": []} and len(outbox.entries) == 30
    assert all(record(shop, f"o{n}").status == "sent" for n in range(30))
    assert seen_at == [(25, 25), (30, 5)], seen_at
    assert seen.calls["PutItem:deliveries"] == 30 + 2, seen.calls
    assert "UpdateItem:deliveries" not in seen.calls and "BatchExecuteStatement:deliveries" not in seen.calls
    # AND each page has a claim token of its own, which the records it holds are claimed with
    assert len(set(pages)) == 2
    assert all(page_pk(shop.tenant_id, cl) in pages for cl in claim_tokens(shop, [f"o{n}" for n in range(30)]))
    # AND listing the day (a query per shard of its days) reads both pages in one request
    with DynamoCalls(clients) as listing:
        assert {r.status for r in DeliveryRepository().on_day(shop.tenant_id, DAY)} == {Status.sent}
    assert listing.calls["BatchGetItem:deliveries"] == 1, listing.calls
    assert listing.calls["Query:deliveries"] == DAY_SHARDS, listing.calls


def test_a_failing_message_does_not_keep_the_batchs_sent_outcomes_from_being_written(shop, robot, outbox, context):
    # GIVEN a batch whose second message fails in a way SendPushes does not expect (a tenant that is not there
    # is no failure: a body without a date is)
    event = sqs_event(body(shop, "a"), {"tenant_id": shop.tenant_id, "group_ids": ["b"]}, body(shop, "c"))
    # WHEN SendPushes handles it
    result = process(event, context, deps=handler_deps(make_deps(robot, outbox), RetryQueue()))
    # THEN that message alone comes back and a's and c's outcomes are recorded sent
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert record(shop, "a").status == record(shop, "c").status == "sent"


def test_the_same_message_handled_by_six_environments_at_once_reaches_the_group_once(shop, robot, outbox):
    import threading

    # GIVEN six SendPushes environments that receive the same message for group a at the same instant (SQS
    # delivers at least once, and Lambda runs environments side by side)
    start, outcomes = threading.Barrier(6), []

    def environment() -> None:
        deps = make_deps(robot, outbox)
        # warm, as a running environment is: its clients made and connected by an earlier message (group b's)
        try:
            send_body(body(shop, "b"), deps=deps)
        except RetryLater:
            pass
        start.wait()
        try:
            send_body(body(shop, "a"), deps=deps)
            outcomes.append("done")
        except RetryLater:
            outcomes.append("retry")  # another environment holds the claim: the message comes back later

    threads = [threading.Thread(target=environment) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN the robot received the brief once, the record says sent after one attempt, and whoever did not send
    # either found it sent or asked for the message back
    assert [r.key for r in robot.received if r.key == "k-a"] == ["k-a"]
    sent = record(shop, "a")
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert len(outcomes) == 6 and "done" in outcomes
    # AND the messages handed back change nothing when they return
    for _ in range(outcomes.count("retry")):
        send_body(body(shop, "a"), deps=make_deps(robot, outbox))
    assert [r.key for r in robot.received].count("k-a") == 1
