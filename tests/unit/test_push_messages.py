"""The push queue's messages: each kind parses from the JSON its producer has always queued and serializes back
to the same JSON; a body that is not a push fails to parse; a new kind is one more class."""

from __future__ import annotations

import json
from datetime import date
from typing import Literal

import pytest
from pydantic import ValidationError
from qunyun.domain.push_messages import (
    BriefMessage,
    CancellationMessage,
    FarewellMessage,
    PushMessage,
    ReminderMessage,
    parse_push,
)

BODIES = {
    BriefMessage: {"tenant_id": "t1", "edition": "morning", "date": "2026-11-27",
                   "slot": "2026-11-26T23:20:00+00:00", "group_ids": ["a"]},
    ReminderMessage: {"tenant_id": "t1", "date": "2026-12-15", "event_id": "live", "kind": "reminder", "lead": "1h",
                      "due": "2026-12-15T19:00:00+08:00", "owner": "zhang", "group_ids": ["cg1", "cg2"]},
    CancellationMessage: {"tenant_id": "t1", "date": "2026-12-15", "event_id": "live", "kind": "event_cancelled",
                          "group_ids": ["a"]},
    FarewellMessage: {"tenant_id": "t1", "date": "2026-12-12", "group_ids": ["f1"], "kind": "farewell"},
}


@pytest.mark.parametrize("kind", list(BODIES), ids=lambda k: k.__name__)
def test_each_kind_reads_and_writes_the_json_its_producer_queues(kind):
    # GIVEN a body as its producer queued it before the messages were typed
    body = BODIES[kind]
    # WHEN SendPushes parses its text
    message = parse_push(json.dumps(body))
    # THEN it is its kind, and written again it is the same JSON
    assert type(message) is kind
    assert message.body() == body and json.loads(message.to_json()) == body


def test_a_brief_carries_no_kind_on_the_queue_and_takes_one_that_says_brief():
    brief = BriefMessage(tenant_id="t1", edition="evening", date=date(2026, 11, 27), group_ids=("a",))
    assert "kind" not in brief.body() and brief.kind == "brief"
    assert parse_push({**brief.body(), "kind": "brief"}) == brief


@pytest.mark.parametrize("body", [
    {"tenant_id": "t1", "group_ids": ["b"]},  # no date
    {**BODIES[BriefMessage], "edition": "noon"},
    {**BODIES[ReminderMessage], "due": "soon"},
    {**BODIES[FarewellMessage], "group_ids": ["f1", "f2"]},  # a farewell is one group's
    {**BODIES[CancellationMessage], "kind": "welcome_back"},
], ids=["no date", "no such edition", "due not a time", "farewell of two groups", "no such kind"])
def test_a_body_that_is_not_a_push_fails_to_parse(body):
    with pytest.raises(ValidationError):
        parse_push(json.dumps(body))


def test_text_that_is_not_json_fails_to_parse():
    with pytest.raises(ValidationError):
        parse_push("{not json")


def test_a_new_kind_is_one_more_class():
    # GIVEN a kind defined after the others (as a welcome would be)
    class GreetingMessage(PushMessage):
        kind: Literal["test_greeting"] = "test_greeting"
        member_id: str

    try:
        # WHEN its body is parsed
        message = parse_push({"kind": "test_greeting", "tenant_id": "t1", "date": "2026-12-01", "group_ids": ["a"],
                              "member_id": "m1"})
        # THEN it is that kind, and the other kinds still parse
        assert isinstance(message, GreetingMessage) and message.member_id == "m1"
        assert type(parse_push(BODIES[FarewellMessage])) is FarewellMessage
    finally:
        PushMessage.kinds.pop("test_greeting")  # the queue's kinds are the product's again for the other tests
