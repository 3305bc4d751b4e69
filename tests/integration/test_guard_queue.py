"""The guard across its queue, on DynamoDB Local and the local SQS endpoint (moto): signed Telegram updates through
InboundApi into ProcessGroupEvents, which hands the messages that match a rule to a FIFO queue; GuardOffences
consumes it and acts against a fake Telegram. What is tried: only matching messages queued (none for a tenant
without rules), the ladder through the queue, a ProcessGroupEvents batch retried (each message queued once), a
GuardOffences batch delivered twice (acted on once), a queue that refuses (the records retried, the others not),
a chat's messages in order in one message group, and a record that is not a message event."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import guard_offences
import inbound_support
import process_group_events
import pytest
from fakes.callbacks import TelegramCallbacks
from inbound_support import BOT, CHAT, Queued, deliver, sqs_event
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.guard_groups import GuardPlatforms
from qunyun.adapters.guard_log import GuardLog
from qunyun.adapters.guard_queue import GuardQueue, message_group
from qunyun.adapters.guard_rules import GuardRulesStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.moderation import Moderation
from qunyun.domain.group_events import GROUP_EVENT
from qunyun.domain.guard_rules import GroupRules
from qunyun.services.groups import import_groups
from qunyun.services.guard_handoff import hand_over
from qunyun.services.guard_rules import RulesCache, set_rules
from qunyun_ops.local.sqs import SqsLocal, sqs_client, sqs_record

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
TELEGRAM = TelegramCallbacks("secret-token")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RULES = {"guard": {"words": ["加微信", "刷单"], "window_days": 30}}

telegram = inbound_support.telegram


class Credentials:
    def get(self, tenant_id, platform):
        return {"bot_token": BOT, "secret_token": "secret-token"} if platform == "telegram" else None


@pytest.fixture(scope="module")
def sqs():
    with SqsLocal() as server:
        yield sqs_client(server.endpoint)


@pytest.fixture
def queue_url(sqs):
    return sqs.create_queue(QueueName=f"guard-{uuid.uuid4().hex[:12]}.fifo",
                            Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"})["QueueUrl"]


class World:
    """ProcessGroupEvents handing over to the guard's queue, and GuardOffences draining it."""

    def __init__(self, tenant_id: str, telegram, sqs, queue_url: str):
        self.tenant_id, self.sqs, self.url, self.updates = tenant_id, sqs, queue_url, 0
        base = process_group_events.default_deps()
        self.guard = replace(process_group_events.guard_deps(base.directory, base.timezone),
                             platforms=GuardPlatforms(Moderation(telegram.base_url)),
                             rules=RulesCache(GuardRulesStore(), seconds=0))
        self.queue = GuardQueue(queue_url, sqs)
        self.deps = replace(base, guard=partial(hand_over, deps=self.guard, send=self.queue.send))

    def said(self, *said: tuple[int, str, datetime]) -> dict:
        """Each (user, text, time) as a signed update through InboundApi; then one ProcessGroupEvents batch."""
        queued = Queued()
        for user, text, at in said:
            self.updates += 1
            deliver(TELEGRAM.update({"update_id": self.updates, "message": {
                "message_id": self.updates, "date": int(at.timestamp()), "text": text,
                "from": {"id": user, "first_name": f"U{user}"}, "chat": {"id": int(CHAT), "type": "supergroup"}}}),
                "telegram", self.tenant_id, Credentials(), queued)
        self.last = sqs_event(queued.events)
        return process_group_events.process(self.last, None, self.deps)

    def receive(self) -> list[dict]:
        """Everything on the guard's queue, as SQS hands it over (a FIFO queue: at most 10 at a time)."""
        got: list[dict] = []
        while batch := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                                MessageSystemAttributeNames=["All"]).get("Messages", []):
            got += batch
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        return got

    def consume(self, messages: list[dict] | None = None) -> dict:
        """One GuardOffences invocation of these messages (by default, everything on the queue)."""
        messages = self.receive() if messages is None else messages
        event = {"Records": [sqs_record(m, "arn:aws:sqs:us-east-1:123456789012:guard.fifo", "us-east-1")
                             for m in messages]}
        return guard_offences.process(event, None, self.guard)

    def actions(self, kind: str) -> list:
        return [a for a in GuardLog().actions(self.tenant_id) if a.kind == kind]


@pytest.fixture
def world(tenant, telegram, sqs, queue_url):
    import_groups(tenant.tenant_id, "\n".join([HEADER, f"tg,电报群,traffic,telegram_bot,,{BOT},,{CHAT},,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    set_rules(tenant.tenant_id, GroupRules.model_validate(RULES), datetime.now(UTC), store=GuardRulesStore())
    return World(tenant.tenant_id, telegram, sqs, queue_url)


def test_only_the_matching_messages_are_queued_and_the_ladder_runs_in_guard_offences(world, telegram):
    # GIVEN a batch with one ad among ordinary messages
    assert world.said((7, "早上好", T0), (7, "便宜，加微信 abc123", T0 + timedelta(seconds=1)),
                      (8, "hello", T0 + timedelta(seconds=2))) == {"batchItemFailures": []}
    # THEN ProcessGroupEvents acted on nothing itself: the ad waits on the guard's queue, alone
    assert telegram.deleted == [] and telegram.received == [] and GuardLog().offences(world.tenant_id) == []
    [queued] = world.receive()
    assert GROUP_EVENT.validate_json(queued["Body"]).text == "便宜，加微信 abc123"
    # WHEN GuardOffences consumes it
    assert world.consume([queued]) == {"batchItemFailures": []}
    # THEN the message is deleted and the member warned, naming the rule only
    assert telegram.deleted == [(CHAT, "2")]
    [warning] = telegram.received
    assert "U7" in warning.text and "加微信" not in warning.text
    # AND a second offence in the window, through the queue, removes them
    world.said((7, "刷单 兼职", T0 + timedelta(days=3)))
    assert world.consume() == {"batchItemFailures": []}
    assert telegram.bans == [(CHAT, "7")] and telegram.unbans == [(CHAT, "7")] and len(telegram.received) == 1
    [removal] = world.actions("remove")
    assert (removal.status, removal.evidence) == ("done", "刷单 兼职")


def test_a_tenant_without_rules_queues_nothing(tenant, telegram, sqs, queue_url):
    import_groups(tenant.tenant_id, "\n".join([HEADER, f"tg,电报群,traffic,telegram_bot,,{BOT},,{CHAT},,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    world = World(tenant.tenant_id, telegram, sqs, queue_url)
    assert world.said((7, "加微信 https://rival.cn", T0)) == {"batchItemFailures": []}
    assert world.receive() == []


def test_a_retried_process_group_events_batch_queues_each_message_once(world, telegram):
    world.said((7, "加微信", T0), (7, "加微信!", T0 + timedelta(minutes=1)))
    # WHEN SQS delivers the same batch again (its deduplication ids are the messages themselves)
    process_group_events.process(world.last, None, world.deps)
    queued = world.receive()
    assert len(queued) == 2
    # AND both are of the chat's one message group, in the order they were said
    assert {m["Attributes"]["MessageGroupId"] for m in queued} == {message_group(
        GROUP_EVENT.validate_json(queued[0]["Body"]))}
    assert [GROUP_EVENT.validate_json(m["Body"]).text for m in queued] == ["加微信", "加微信!"]
    world.consume(queued)
    assert len(telegram.received) == 1 and telegram.bans == [(CHAT, "7")]


def test_a_guard_offences_batch_delivered_twice_acts_once(world, telegram):
    world.said((7, "加微信", T0), (7, "加微信!", T0 + timedelta(minutes=1)))
    queued = world.receive()
    world.consume(queued)
    # WHEN the same records come again (the function stopped before SQS deleted them)
    assert world.consume(queued) == {"batchItemFailures": []}
    # THEN nothing is deleted, posted or removed twice
    assert len(telegram.deleted) == 2 and len(telegram.received) == 1 and telegram.bans == [(CHAT, "7")]
    assert len(GuardLog().offences(world.tenant_id)) == 2 and len(world.actions("remove")) == 1


def test_a_queue_that_refuses_fails_only_the_matching_records(world, telegram):
    # GIVEN a guard queue that does not exist (every send fails)
    world.deps = replace(world.deps, guard=partial(hand_over, deps=world.guard, send=GuardQueue(
        world.url.replace(".fifo", "-gone.fifo"), world.sqs).send))
    # WHEN a batch holds a greeting and an ad
    answer = world.said((7, "早上好", T0), (7, "加微信", T0 + timedelta(seconds=1)))
    # THEN only the ad's record comes back to be delivered again; nothing was acted on
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert telegram.received == [] and GuardLog().offences(world.tenant_id) == []


def test_a_record_that_is_not_a_message_event_comes_back_alone(world, telegram):
    world.said((7, "加微信", T0))
    [queued] = world.receive()
    junk = dict(queued, MessageId="junk", Body=json.dumps({"kind": "nothing"}))
    answer = world.consume([queued, junk])
    assert answer == {"batchItemFailures": [{"itemIdentifier": "junk"}]}
    assert len(telegram.received) == 1
