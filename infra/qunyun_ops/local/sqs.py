"""SQS on the local stack: the template's queues on moto's server, and Lambda's SQS event source mapping.

`qunyun local up` starts moto's server mode (a real SQS endpoint; in its own process, see sqs_server.py) on
127.0.0.1, creates every `AWS::SQS::Queue` of template.yaml there (QueueName, VisibilityTimeout,
MessageRetentionPeriod, DelaySeconds, FIFO, RedrivePolicy) and runs a poller for every `Type: SQS` event of a
function, doing what Lambda's event source mapping does: receive up to BatchSize messages (waiting up to
MaximumBatchingWindowInSeconds to fill a batch), invoke the function with the SQS event, then delete what
succeeded. A failed invocation deletes nothing; with `FunctionResponseTypes: [ReportBatchItemFailures]` the
messages named in `batchItemFailures` stay, and a response Lambda would not accept fails the whole batch.
What stays becomes visible again after the queue's VisibilityTimeout and is delivered again.

Redrive: moto applies a queue's RedrivePolicy itself in server mode, as SQS does: a receive that meets a
message already received maxReceiveCount times moves it to the dead-letter queue instead of delivering it.
The pollers therefore never move messages themselves.

What a function gets (the contract for code in functions/):
- `AWS_ENDPOINT_URL_SQS` and `QUNYUN_SQS_ENDPOINT`: the endpoint, http://127.0.0.1:PORT. boto3 honours the
  first by itself, so `boto3.client("sqs")` needs no endpoint_url; the second names it for code that asks.
- Environment values `!Ref Q` (the queue URL), `!GetAtt Q.Arn`, `!GetAtt Q.QueueName`, and the same as
  `${Q}`, `${Q.Arn}`, `${Q.QueueName}` inside `!Sub`.
- Events shaped as Lambda delivers them: {"Records": [{messageId, receiptHandle, body, attributes,
  messageAttributes, md5OfBody, eventSource: "aws:sqs", eventSourceARN, awsRegion}, ...]}.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from qunyun_ops.local.server import LocalServer
from qunyun_ops.local.template import QueueSource, Template
from qunyun_ops.local.workers import FunctionPool, InvocationError, env_value, queue_arn, queue_url, region

# Long polls are kept short so that a stop is noticed within a second.
POLL_WAIT = 1
_RECEIVE_MAX = 10  # SQS returns at most 10 messages per ReceiveMessage
_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)
_COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sqs_client(endpoint: str, reg: str | None = None, connections: int = 10) -> Any:
    """A boto3 SQS client for the local endpoint (moto accepts any credentials)."""
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=connections, connect_timeout=5, read_timeout=POLL_WAIT + 30,
                    retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("sqs", endpoint_url=endpoint, region_name=reg or region(),
                        aws_access_key_id="local", aws_secret_access_key="local", config=config)


# ------------------------------------------------------------------------------------------------ the server


class SqsLocal(LocalServer):
    """moto's server on 127.0.0.1 in a child process that dies with this one."""

    name = "the local SQS endpoint (moto)"

    def __init__(self, port: int | None = None, log: Callable[[str], None] = _log):
        super().__init__(port, log)

    def spawn(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "qunyun_ops.local.sqs_server", "--port", str(self.port),
               "--parent", str(os.getpid())]
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


# ------------------------------------------------------------------------------------------------ the queues


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def queue_attributes(template: Template, logical_id: str, stack_name: str, reg: str) -> dict[str, str]:
    """CreateQueue attributes from the queue's Properties, its RedrivePolicy's target resolved to an ARN."""
    props = template.queues[logical_id]
    attributes = {key: _text(props[key]) for key in _ATTRIBUTES if key in props}
    redrive = props.get("RedrivePolicy")
    if redrive:
        redrive = json.loads(redrive) if isinstance(redrive, str) else redrive
        target = env_value(redrive.get("deadLetterTargetArn"), template, stack_name, reg)
        if target is None:
            raise ValueError(f"{logical_id}: RedrivePolicy's deadLetterTargetArn must be !GetAtt Q.Arn of a queue")
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": target, "maxReceiveCount": int(redrive["maxReceiveCount"])}
        )
    return attributes


def create_queues(client: Any, template: Template, stack_name: str) -> dict[str, str]:
    """Creates every queue of the template, dead-letter queues before the queues that redrive to them;
    returns their URLs by logical id."""
    reg = client.meta.region_name
    by_arn = {queue_arn(template.queue_name(lid, stack_name), reg): lid for lid in template.queues}
    urls: dict[str, str] = {}
    pending = list(template.queues)
    while pending:
        waiting = []
        for lid in pending:
            attributes = queue_attributes(template, lid, stack_name, reg)
            target = json.loads(attributes.get("RedrivePolicy", "{}")).get("deadLetterTargetArn")
            if target in by_arn and by_arn[target] not in urls:
                waiting.append(lid)
                continue
            name = template.queue_name(lid, stack_name)
            urls[lid] = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        if len(waiting) == len(pending):
            raise ValueError(f"the redrive policies of {', '.join(waiting)} form a cycle")
        pending = waiting
    return urls


# ------------------------------------------------------------------------------------------------- the event


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    out["stringListValues"] = list(value.get("StringListValues", []))
    out["binaryListValues"] = [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])]
    out["dataType"] = value["DataType"]
    return out


def sqs_record(message: dict[str, Any], queue_arn_: str, reg: str) -> dict[str, Any]:
    """One received message as a record of the event Lambda's SQS event source mapping delivers."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {k: _message_attribute(v) for k, v in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn_, "awsRegion": reg})
    return record


def failed_ids(response: Any, message_ids: set[str]) -> set[str] | None:
    """The messages a ReportBatchItemFailures response keeps on the queue; None when Lambda would count the
    whole batch as failed (a response that is not an object, an itemIdentifier missing, empty or unknown)."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return None
    kept = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        kept.add(identifier)
    return kept


def queues_empty(client: Any, urls: list[str]) -> bool:
    """True when none of the queues holds a message: visible, in flight (not yet deleted) or delayed."""
    for url in urls:
        counts = client.get_queue_attributes(QueueUrl=url, AttributeNames=list(_COUNTS))["Attributes"]
        if any(int(counts.get(name, 0)) for name in _COUNTS):
            return False
    return True


def wait_until_empty(client: Any, urls: list[str], timeout: float = 60.0) -> None:
    """Waits for the queues to empty (each message deleted by its consumer or moved to a dead-letter queue)."""
    deadline = time.monotonic() + timeout
    while not queues_empty(client, urls):
        if time.monotonic() > deadline:
            raise TimeoutError(f"queues still hold messages after {timeout:.0f} s: {', '.join(urls)}")
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------ the pollers


class QueueRunner:
    """Lambda's SQS event source mappings for the template: one poller thread per enabled SQS event."""

    def __init__(
        self,
        template: Template,
        pool: FunctionPool,
        endpoint: str,
        stack_name: str,
        *,
        log: Callable[[str], None] = _log,
    ):
        self.pool = pool
        self.reg = region()
        self.sources = [s for s in template.queue_sources if s.enabled]
        self.log = log
        self._names = {s.queue: template.queue_name(s.queue, stack_name) for s in self.sources}
        self._urls = {lid: queue_url(name, self.reg, endpoint) for lid, name in self._names.items()}
        concurrency = sum(self._concurrency(s) for s in self.sources)
        self.client = sqs_client(endpoint, self.reg, connections=max(10, 2 * concurrency + len(self.sources)))
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._delivered = 0
        self._threads: list[threading.Thread] = []

    @property
    def queue_urls(self) -> list[str]:
        """The URLs of the queues that have a consumer."""
        return sorted(set(self._urls.values()))

    def start(self) -> None:
        self._stop.clear()
        for source in self.sources:
            thread = threading.Thread(target=self._poll, args=(source,), name=f"sqs:{source.function}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stops polling; batches in flight end with the pool (a failed invocation deletes nothing)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(POLL_WAIT + 5)
        self._threads = []

    def drain(self, timeout: float = 60.0) -> None:
        """Returns once every consumed queue is empty and no batch is being delivered. A message that keeps
        failing counts until it is in its dead-letter queue, so this waits out its visibility timeouts."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                before = (self._in_flight, self._delivered)
            # Received messages stay on their queue (not visible) until deleted after the invocation, so an
            # empty queue read after an idle moment means nothing was received in between.
            if before[0] == 0 and queues_empty(self.client, self.queue_urls):
                with self._cond:
                    if (self._in_flight, self._delivered) == before:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"SQS consumers still busy after {timeout:.0f} s")
            time.sleep(0.05)

    # -- internals

    def _concurrency(self, source: QueueSource) -> int:
        return min(self.pool.max_per_function, source.max_concurrency or self.pool.max_per_function)

    def _poll(self, source: QueueSource) -> None:
        url = self._urls[source.queue]
        arn = queue_arn(self._names[source.queue], self.reg)
        slots = threading.BoundedSemaphore(self._concurrency(source))
        while not self._stop.is_set():
            if not slots.acquire(timeout=0.2):
                continue
            try:
                messages = self._collect(source, url)
            except Exception as exc:
                slots.release()
                if not self._stop.is_set():
                    self.log(f"sqs: receiving from {self._names[source.queue]} failed: {exc}")
                    self._stop.wait(1.0)
                continue
            if not messages:
                slots.release()
                continue
            with self._cond:
                self._in_flight += 1
            threading.Thread(
                target=self._deliver, args=(source, url, arn, messages, slots), name=f"batch:{source.function}",
                daemon=True,
            ).start()

    def _receive(self, url: str, count: int, wait: int) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=count, WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _collect(self, source: QueueSource, url: str) -> list[dict[str, Any]]:
        """One batch: a long poll for the first messages, then up to the batching window to fill it."""
        messages = self._receive(url, min(_RECEIVE_MAX, source.batch_size), POLL_WAIT)
        if not messages:
            return []
        deadline = time.monotonic() + source.window
        while len(messages) < source.batch_size and time.monotonic() < deadline and not self._stop.is_set():
            more = self._receive(url, min(_RECEIVE_MAX, source.batch_size - len(messages)), 0)
            messages.extend(more)
            if not more:
                self._stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return messages

    def _deliver(
        self, source: QueueSource, url: str, arn: str, messages: list[dict[str, Any]], slots: threading.Semaphore
    ) -> None:
        try:
            event = {"Records": [sqs_record(m, arn, self.reg) for m in messages]}
            try:
                response = self.pool.invoke(source.function, event)
            except InvocationError as exc:
                if not self._stop.is_set():
                    self.log(f"sqs: {source.function} failed on {len(messages)} messages, none deleted: {exc}")
                return
            kept: set[str] | None = set()
            if source.report_failures:
                kept = failed_ids(response, {m["MessageId"] for m in messages})
                if kept is None:
                    self.log(f"sqs: {source.function} returned an invalid batchItemFailures response; "
                             f"the whole batch of {len(messages)} stays: {json.dumps(response)[:200]}")
                    return
            self._delete(url, [m for m in messages if m["MessageId"] not in kept])
        except Exception as exc:
            self.log(f"sqs: delivering to {source.function} failed: {exc}")
        finally:
            with self._cond:
                self._in_flight -= 1
                self._delivered += 1
            slots.release()

    def _delete(self, url: str, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), _RECEIVE_MAX):
            chunk = messages[start : start + _RECEIVE_MAX]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            result = self.client.delete_message_batch(QueueUrl=url, Entries=entries)
            for failure in result.get("Failed", []):
                self.log(f"sqs: deleting a message failed: {failure.get('Code')} {failure.get('Message')}")
