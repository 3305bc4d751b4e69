"""The local stack's SQS: moto's server with the queues of a template, and pollers doing what Lambda's SQS event
source mapping does (tests/fixtures/local_sqs: BatchSize 3, ReportBatchItemFailures, maxReceiveCount 2 into a
dead-letter queue, a 5-second visibility timeout)."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

import pytest
from qunyun.adapters.push_queue import PushQueue
from qunyun.domain.push_messages import BriefMessage
from qunyun_ops.env import local_environment
from qunyun_ops.local.sqs import QueueRunner, SqsLocal, create_queues, sqs_client
from qunyun_ops.local.template import Template
from qunyun_ops.local.workers import FunctionPool
from support import FIXTURES

STACK = "sqs-test"
TEMPLATE = FIXTURES / "local_sqs" / "template.yaml"


@pytest.fixture(scope="module")
def moto():
    with SqsLocal() as server:
        yield server


@pytest.fixture
def runner(moto, tmp_path):
    """A fresh pair of queues (their own stack name) with the consumer polling the work queue."""
    template = Template.read(TEMPLATE)
    stack = f"{STACK}-{tmp_path.name[-12:].replace('_', '-')}"
    client = sqs_client(moto.endpoint)
    urls = create_queues(client, template, stack)
    record_file = tmp_path / "batches.jsonl"
    env = local_environment("http://127.0.0.1:9", stack, tmp_path / "secrets.json", moto.endpoint)
    pool = FunctionPool(template, TEMPLATE.parent, stack, env, max_per_function=2,
                        overrides={"SQS_RECORD_FILE": str(record_file)})
    queues = QueueRunner(template, pool, moto.endpoint, stack, log=lambda _: None)
    queues.start()
    yield Runner(client, urls, pool, queues, record_file)
    queues.stop()
    pool.close()


class Runner:
    def __init__(self, client, urls: dict, pool: FunctionPool, queues: QueueRunner, record_file: Path):
        self.client, self.urls, self.pool, self.queues, self.record_file = client, urls, pool, queues, record_file

    def send(self, *bodies: dict) -> None:
        for b in bodies:
            self.client.send_message(QueueUrl=self.urls["WorkQueue"], MessageBody=json.dumps(b))

    def batches(self) -> list[list[dict]]:
        if not self.record_file.exists():
            return []
        return [json.loads(line) for line in self.record_file.read_text().splitlines()]

    def receipts(self, message_id: str) -> list[int]:
        return [m["count"] for b in self.batches() for m in b if m["id"] == message_id]

    def dead_letters(self) -> list[dict]:
        out = []
        while True:
            got = self.client.receive_message(QueueUrl=self.urls["WorkDeadLetters"], MaxNumberOfMessages=10,
                                              WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return out
            out += [json.loads(m["Body"]) for m in got]


def test_batches_hold_at_most_the_batch_size_in_the_lambda_event_shape(runner):
    # GIVEN 7 messages on a queue whose consumer takes batches of 3
    runner.send(*({"id": f"m{i}"} for i in range(7)))
    # WHEN the runner has delivered them
    runner.queues.drain(timeout=30)
    # THEN every message arrived once, in batches of at most 3, as Lambda's SQS records, and all were deleted
    batches = runner.batches()
    assert sorted(m["id"] for b in batches for m in b) == [f"m{i}" for i in range(7)]
    assert all(1 <= len(b) <= 3 for b in batches)
    record = batches[0][0]["record"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":" + runner.urls[
        "WorkQueue"].rsplit("/", 1)[1])
    assert {"messageId", "receiptHandle", "body", "attributes", "md5OfBody", "awsRegion"} <= set(record)
    assert runner.dead_letters() == []


def test_reported_failures_come_back_and_the_rest_do_not(runner):
    # GIVEN a message the consumer reports failed on its first receive, next to two that succeed
    runner.send({"id": "flaky", "fail_times": 1}, {"id": "ok-1"}, {"id": "ok-2"})
    # WHEN the runner has delivered them
    runner.queues.drain(timeout=30)
    # THEN only the failed one was delivered again (after the visibility timeout), and then deleted
    assert runner.receipts("flaky") == [1, 2]
    assert runner.receipts("ok-1") == [1] and runner.receipts("ok-2") == [1]
    assert runner.dead_letters() == []


def test_a_message_failing_max_receive_count_times_lands_in_the_dead_letter_queue(runner):
    # GIVEN a message that always fails, and one whose invocation raises on its first receive
    runner.send({"id": "poison", "fail_times": 99})
    runner.send({"id": "raises", "raise_times": 1})
    # WHEN the runner has delivered what it can
    runner.queues.drain(timeout=30)
    # THEN the poison message was received twice (maxReceiveCount) and then moved to the dead-letter queue
    assert runner.receipts("poison") == [1, 2]
    assert [d["id"] for d in runner.dead_letters()] == ["poison"]
    # AND a raising invocation kept its whole batch, which succeeded on the next receive
    assert runner.receipts("raises")[-1] == 2


def test_an_invalid_batch_item_failures_answer_keeps_the_whole_batch(runner):
    # GIVEN a consumer naming a message that is not in its batch
    runner.send({"id": "odd", "bad_response": True})
    # WHEN the runner has delivered it
    runner.queues.drain(timeout=30)
    # THEN Lambda's rule applies: the whole batch counts as failed, so the message ends in the dead letters
    assert runner.receipts("odd") == [1, 2]
    assert [d["id"] for d in runner.dead_letters()] == ["odd"]


def test_functions_see_the_queues_and_the_endpoint_and_plain_boto3_reaches_it(runner):
    # WHEN a function sends to the queue with a plain boto3 client, as BriefDispatch does
    env = runner.pool.invoke("Forward", {"bodies": [{"id": "forwarded"}]})
    runner.queues.drain(timeout=30)
    # THEN it found the queue's URL, ARN and name in its environment and the consumer got the message
    assert env["WORK_QUEUE_URL"] == runner.urls["WorkQueue"] and env["DLQ_URL"] == runner.urls["WorkDeadLetters"]
    assert env["WORK_QUEUE_ARN"].startswith("arn:aws:sqs:") and env["AWS_ENDPOINT_URL_SQS"] == env[
        "QUNYUN_SQS_ENDPOINT"]
    assert runner.receipts("forwarded") == [1]


def test_the_push_queue_sends_in_batches_of_ten_and_holds_a_message_back(moto, monkeypatch):
    # GIVEN the push queue on the local endpoint
    client = sqs_client(moto.endpoint)
    url = client.create_queue(QueueName=f"pushes-{os.getpid()}-{time.monotonic_ns()}")["QueueUrl"]
    calls = []
    send_batch = client.send_message_batch
    monkeypatch.setattr(client, "send_message_batch", lambda **kw: calls.append(len(kw["Entries"])) or send_batch(
        **kw))
    queue = PushQueue(url, client)
    # WHEN 23 messages are sent
    assert queue.send(BriefMessage(tenant_id=f"t{i}", edition="morning", date=date(2026, 11, 27), group_ids=("a",))
                      for i in range(23)) == 23
    # THEN they went in 3 SendMessageBatch calls of at most 10
    assert calls == [10, 10, 3]
    got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    # AND a message held back for a retry-after is not received again before its time
    queue.retry_after(got[0]["ReceiptHandle"], 30)
    client.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(got[1:])])
    seen = set()
    for _ in range(5):
        seen |= {m["Body"] for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                           VisibilityTimeout=60).get("Messages", [])}
    assert got[0]["Body"] not in seen and len(seen) == 22


def test_the_endpoint_keeps_a_clients_connection_and_answers_without_cors_headers(moto):
    # GIVEN a queue on the endpoint `qunyun local up` starts, WHEN a boto3 client sends to it
    client = sqs_client(moto.endpoint)
    url = client.create_queue(QueueName=f"keep-{os.getpid()}-{time.monotonic_ns()}")["QueueUrl"]
    headers = client.send_message_batch(QueueUrl=url, Entries=[{"Id": "0", "MessageBody": "one"}])[
        "ResponseMetadata"]["HTTPHeaders"]
    # THEN the connection stays open for the next call, and the answer carries SQS's headers, no browser's
    assert headers.get("connection") != "close" and int(headers["content-length"]) > 0
    assert "access-control-allow-origin" not in headers and "x-amzn-requestid" in headers
    assert [m["Body"] for m in client.receive_message(QueueUrl=url)["Messages"]] == ["one"]
