"""Dead-letter queues come from template.yaml's redrive policies, named by logical id, and a parked message is
read as the push it carries, whatever its kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qunyun_ops.deadletters import Queues, UnknownQueue, parked
from qunyun_ops.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = """\
Resources:
  PushQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt PushDeadLetterQueue.Arn, maxReceiveCount: 5}
  InboundQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt InboundDeadLetters.Arn, maxReceiveCount: 3}
  PushDeadLetterQueue: {Type: AWS::SQS::Queue}
  InboundDeadLetters: {Type: AWS::SQS::Queue}
  Plain: {Type: AWS::SQS::Queue}
"""


@pytest.fixture
def queues(tmp_path):
    (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    return Queues(Template.read(tmp_path / "template.yaml"), client=None, url=lambda lid: f"http://sqs/{lid}")


def test_every_dead_letter_queue_is_found_whatever_the_queues_are_called(queues):
    assert queues.dead_letter_queues() == ["InboundDeadLetters", "PushDeadLetterQueue"]
    assert queues.dead_letter_queues("PushQueue") == queues.dead_letter_queues("PushDeadLetterQueue") == \
        ["PushDeadLetterQueue"]
    assert (queues.sources("InboundDeadLetters"), queues.max_receives("InboundQueue")) == (["InboundQueue"], 3)
    with pytest.raises(UnknownQueue, match="InboundQueue, PushDeadLetterQueue, PushQueue"):
        queues.dead_letter_queues("Plain")


def test_the_project_template_has_a_dead_letter_queue_for_its_push_queue():
    redrives = Template.read(ROOT / "template.yaml").redrives
    assert len(redrives) >= 1 and all(source != dlq for source, dlq in redrives.items())


@pytest.mark.parametrize(("body", "kind", "push"), [
    ({"tenant_id": "t", "date": "2026-11-29", "group_ids": ["g1"], "edition": "morning"}, "brief", "brief.morning"),
    ({"tenant_id": "t", "date": "2026-11-29", "group_ids": ["g1"], "kind": "farewell"}, "farewell", "farewell"),
    ({"tenant_id": "t", "date": "2026-11-29", "group_ids": ["g1"], "kind": "reminder", "event_id": "live",
      "lead": "1h", "due": "2026-11-29T14:00:00+08:00"}, "reminder", "reminder.live.1h"),
])
def test_a_parked_message_reads_as_its_push(body, kind, push):
    message = {"MessageId": "m-1", "Body": json.dumps(body),
               "Attributes": {"ApproximateReceiveCount": "9", "ApproximateFirstReceiveTimestamp": "1764374700000"}}
    found = parked("PushDeadLetterQueue", "PushQueue", message, max_receives=5)
    assert (found.kind, found.tenant, found.groups, found.push) == (kind, "t", ("g1",), push)
    # SQS counted each listing's receive too; the consumer received it maxReceiveCount times
    assert found.receives == 5 and found.first_failure.isoformat() == "2025-11-29T00:05:00+00:00"


def test_a_message_that_is_not_a_push_is_still_listed():
    found = parked("D", "Q", {"MessageId": "m-2", "Body": "not json", "Attributes": {"ApproximateReceiveCount": "2"}})
    assert (found.kind, found.tenant, found.push, found.receives, found.first_failure) == ("", "", "", 1, None)
