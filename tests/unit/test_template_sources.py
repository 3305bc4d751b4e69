"""The local stack finds a stream's table and a queue's consumer by `!GetAtt`, as SAM wires them: a DynamoDB event
names its table's StreamArn, an SQS event its queue's Arn. Any other reference is refused with the function and
event that hold it, before the stack starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from qunyun_ops.local.template import Template

DOC = """
Resources:
  PointsTable:
    Type: AWS::DynamoDB::Table
    Properties: {{TableName: points}}
  PushQueue:
    Type: AWS::SQS::Queue
  PageEarnings:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pages.handler
      Events:
        Entries:
          Type: DynamoDB
          Properties:
            Stream: {stream}
  SendPushes:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pushes.handler
      Events:
        Pushes:
          Type: SQS
          Properties:
            Queue: {queue}
"""
STREAM, QUEUE = "!GetAtt PointsTable.StreamArn", "!GetAtt PushQueue.Arn"
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/points/stream/2026-11-25T00:00:00.000"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:pushes"


def template(tmp_path: Path, stream: str = STREAM, queue: str = QUEUE) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(DOC.format(stream=stream, queue=queue), encoding="utf-8")
    return Template.read(path)


def test_getatt_names_the_streams_table_and_the_queue(tmp_path):
    t = template(tmp_path)
    assert [(s.function, s.name, s.table) for s in t.stream_sources] == [("PageEarnings", "Entries", "PointsTable")]
    assert [(s.function, s.name, s.queue) for s in t.queue_sources] == [("SendPushes", "Pushes", "PushQueue")]


@pytest.mark.parametrize("stream", [STREAM_ARN, "!GetAtt OtherTable.StreamArn", "!GetAtt PointsTable.Arn",
                                    "!GetAtt PointsTable"],
                         ids=["plain ARN", "table not in the template", "wrong attribute", "no attribute"])
def test_a_stream_named_otherwise_is_refused_with_its_function_and_event(tmp_path, stream):
    message = "PageEarnings/Entries: Stream must be !GetAtt T.StreamArn of a table in the template"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _ = template(tmp_path, stream=stream).stream_sources


@pytest.mark.parametrize("queue", [QUEUE_ARN, "!Ref PushQueue", "!GetAtt OtherQueue.Arn", "!GetAtt PushQueue.QueueUrl",
                                   "!GetAtt PushQueue"],
                         ids=["plain ARN", "Ref (the queue's URL)", "queue not in the template", "wrong attribute",
                              "no attribute"])
def test_a_queue_named_otherwise_is_refused_with_its_function_and_event(tmp_path, queue):
    message = "SendPushes/Pushes: Queue must be !GetAtt Q.Arn of an AWS::SQS::Queue in the template"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _ = template(tmp_path, queue=queue).queue_sources
