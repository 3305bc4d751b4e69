"""Helpers for tests of what comes in from groups: group events as the SQS batch ProcessGroupEvents receives,
a fake Telegram bot with its group, and a signed callback delivered through InboundApi."""

from __future__ import annotations

import time

import inbound_api
import pytest
from fakes.telegram import FakeTelegramBot
from qunyun.domain.group_events import GROUP_EVENT
from qunyun.services.inbound import InboundDeps
from support import http_event

BOT, CHAT = "123:TOKEN", "-100200"  # the Telegram group's bot token and chat


def sqs_event(events, ids=None) -> dict:
    """The events as one SQS batch, record i with the id `ids[i]` if given, else `m{i}`."""
    return {"Records": [{"messageId": (ids or {}).get(i, f"m{i}"), "receiptHandle": "r", "body":
                         GROUP_EVENT.dump_json(e).decode(), "attributes": {"ApproximateReceiveCount": "1"},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q", "awsRegion": "us-east-1"}
                        for i, e in enumerate(events)]}


@pytest.fixture
def telegram():
    """A fake Telegram with the group's bot and chat."""
    with FakeTelegramBot() as fake:
        fake.add_bot(BOT)
        fake.add_chat(CHAT)
        yield fake


class Queued:
    """InboundApi's queue and refusal log, in memory: the callbacks are verified as in production, then kept."""

    def __init__(self):
        self.events = []

    def send(self, events):
        self.events.extend(events)
        return len(events)

    def refused(self, tenant_id, platform, reason):
        raise AssertionError(reason)


def deliver(call, platform: str, tenant_id: str, credentials, queued: Queued) -> dict:
    """A platform's signed callback through InboundApi; asserts it was accepted."""
    event = http_event(call.method, call.path(platform, tenant_id), call.body, call.headers)
    event["pathParameters"] = {"platform": platform, "tenant": tenant_id}
    deps = InboundDeps(credentials=credentials, queue=queued, refusals=queued, clock=time.time)
    answer = inbound_api.process(event, None, deps)
    assert answer["statusCode"] == 200, answer
    return answer
