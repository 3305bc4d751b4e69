"""Welcomes on DynamoDB Local: joins queue their window's welcome, and SendPushes sends one welcome a window naming
up to 20 newcomers (and counting the others), inert, without spending the daily cap; a wave of 10,000 joins in a
minute is one welcome."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import process_group_events
import send_pushes
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.result import Outcome, SendResult
from qunyun.domain.group_events import Member, MemberJoined, MemberLeft
from qunyun.domain.push_messages import parse_push
from qunyun.services.groups import import_groups
from qunyun.services.push_send import send_message
from test_group_events import HEADER, sqs_event


class Recorder:
    """A channel that takes every message (what the group would read)."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send(self, target, message, first_part: int = 0) -> SendResult:
        self.sent.append((target.group_id, message.text))
        return SendResult(Outcome.delivered, texts=(message.text,), delivered_parts=1)


def world(tenant):
    import_groups(tenant.tenant_id, "\n".join([HEADER, "tg,电报群,traffic,telegram_bot,,BOT:TOKEN,,-100200,,,,,,,",
                                               "wc,客户群,traffic,wecom_customer_group,,,owner1,wrC1,,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    queued: list = []
    base = process_group_events.default_deps()
    deps = replace(base, checkins=replace(base.checkins, reply=lambda m, delay: queued.append((m.body(), delay))))
    recorder = Recorder()
    send = replace(send_pushes.default_deps().send, channel=lambda name: recorder)
    return deps, queued, recorder, send


def joined(tenant, n: int, name: str, at: datetime, chat: str = "-100200", platform: str = "telegram"):
    return MemberJoined(tenant_id=tenant.tenant_id, platform=platform, event_id=f"j{n}", chat_id=chat,
                        occurred_at=at, members=[Member(user_id=str(n), name=name)], how="link")


def test_a_join_is_welcomed_once(tenant, context):
    deps, queued, recorder, send = world(tenant)
    now = datetime.now(UTC)
    # GIVEN a join with a name that tries to mention everyone, its callback delivered twice
    event = joined(tenant, 1, "<@all> **Bob**\x07", now)
    for _ in range(2):
        assert process_group_events.process(sqs_event([event]), context, deps) == {"batchItemFailures": []}
    # WHEN SendPushes takes every queued welcome (both messages of the window)
    assert len(queued) == 2 and queued[0][0] == queued[1][0]
    for body, _ in queued:
        send_message(parse_push(body), deps=send)
    # THEN the group got one welcome, naming the newcomer inert
    [(group, text)] = recorder.sent
    assert group == "tg" and text.startswith("欢迎 ") and "电报群" in text
    assert "＠all" in text and "@all" not in text and "\x07" not in text
    # AND it spent no slot of the day
    day = parse_push(queued[0][0]).date
    assert DeliveryRepository().day(tenant.tenant_id, "tg", day).spent == 0


def test_ten_thousand_joins_in_a_minute_are_one_welcome(tenant, context):
    deps, queued, recorder, send = world(tenant)
    start = datetime.fromtimestamp(int(datetime.now(UTC).timestamp()) // 60 * 60, UTC) - timedelta(minutes=2)
    # GIVEN 10,000 joins within one window, in batches of 1,000 as the queue hands them over
    events = [joined(tenant, n, f"m{n:05d}", start + timedelta(milliseconds=5 * n)) for n in range(10_000)]
    for i in range(0, len(events), 1000):
        assert process_group_events.process(sqs_event(events[i:i + 1000]), context, deps) == {"batchItemFailures": []}
    # THEN each batch queued the same window's welcome, and SendPushes sends it once
    assert len({body["window"] for body, _ in queued}) == 1 and len(queued) == 10
    for body, _ in queued:
        send_message(parse_push(body), deps=send)
    [(_, text)] = recorder.sent
    assert "m00000、m00001" in text and "m00019" in text and "m00020" not in text
    assert "等 9980 人" in text


def test_a_wecom_customer_group_gets_no_per_join_welcome(tenant, context):
    deps, queued, _, _ = world(tenant)
    event = joined(tenant, 1, "Ann", datetime.now(UTC), chat="wrC1", platform="wecom")
    assert process_group_events.process(sqs_event([event]), context, deps) == {"batchItemFailures": []}
    assert queued == []


def test_nobody_left_to_welcome_sends_nothing(tenant, context):
    deps, queued, recorder, send = world(tenant)
    now = datetime.now(UTC)
    start = datetime.fromtimestamp(int(now.timestamp()) // 60 * 60, UTC)
    # GIVEN a member who joined and left within the window
    left = MemberLeft(tenant_id=tenant.tenant_id, platform="telegram", event_id="l1", chat_id="-100200",
                      occurred_at=start + timedelta(seconds=1), members=[Member(user_id="1")], how="left")
    process_group_events.process(sqs_event([joined(tenant, 1, "Ann", start), left]), context, deps)
    # WHEN the window's welcome is handled
    [(body, _)] = queued
    send_message(parse_push(body), deps=send)
    # THEN nothing is sent, and the window's welcome is recorded skipped (a later message of it sends nothing)
    assert recorder.sent == []
    record = DeliveryRepository().get(tenant.tenant_id, "tg", parse_push(body).date, f"welcome.{body['window']}")
    assert (record.status.value, record.reason) == ("skipped", "no_newcomers")
