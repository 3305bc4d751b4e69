"""A FIFO queue's dead letters (the guard's queue): listed, and redriven into the message group they came from, not
dropped as a repeat of the message that failed (moto's SQS, as on the local stack)."""

from __future__ import annotations

import pytest
from qunyun_ops.deadletters import Queues, list_parked, redrive
from qunyun_ops.local.sqs import SqsLocal, create_queues, sqs_client
from qunyun_ops.local.template import Template

TEMPLATE = """
Resources:
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      VisibilityTimeout: 0
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDeadLetterQueue.Arn
        maxReceiveCount: 1
  WorkDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
"""


@pytest.fixture
def queues(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    with SqsLocal() as server:
        client = sqs_client(server.endpoint)
        template = Template.read(path)
        urls = create_queues(client, template, "fifo-test")
        yield Queues(template, client, urls.__getitem__), urls


def test_a_fifo_dead_letter_is_redriven_into_its_message_group(queues):
    q, urls = queues
    assert urls["WorkQueue"].endswith(".fifo") and urls["WorkDeadLetterQueue"].endswith(".fifo")
    q.client.send_message(QueueUrl=urls["WorkQueue"], MessageBody='{"kind": "message"}', MessageGroupId="chat-1",
                          MessageDeduplicationId="m-1")
    # GIVEN a message its consumer failed on as often as the redrive policy allows
    for _ in range(2):
        q.client.receive_message(QueueUrl=urls["WorkQueue"], MaxNumberOfMessages=10)
    [dead] = list_parked(q, ["WorkDeadLetterQueue"])
    assert dead.source == "WorkQueue"
    # WHEN it is redriven
    [moved] = redrive(q, "WorkDeadLetterQueue")
    # THEN it is back on its queue, in its message group, even within the five minutes its first id is remembered
    [back] = q.client.receive_message(QueueUrl=urls["WorkQueue"], MaxNumberOfMessages=10,
                                      MessageSystemAttributeNames=["All"])["Messages"]
    assert back["Body"] == '{"kind": "message"}' and back["Attributes"]["MessageGroupId"] == "chat-1"
    assert moved.message_id == dead.message_id and list_parked(q, ["WorkDeadLetterQueue"]) == []
