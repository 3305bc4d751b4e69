"""The push queue (SQS): where briefs, reminders, cancellation notices and farewells wait for SendPushes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from qunyun.domain.push_messages import PushMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SendMessageBatch takes at most 10 entries
MAX_VISIBILITY = 12 * 3600  # SQS's ceiling for a message's visibility timeout


class PushQueue:
    def __init__(self, queue_url: str | None, client: SQSClient | None = None):
        self.url, self._client = queue_url, client

    @property
    def client(self) -> SQSClient:
        """Made on first use: a handler's dependencies are built before it knows whether it will queue anything."""
        if self._client is None:
            if not self.url:
                raise RuntimeError("no push queue to send to: set PUSH_QUEUE_URL")
            import boto3  # AWS_ENDPOINT_URL_SQS points it at the local stack's endpoint

            self._client = boto3.client("sqs")
        return self._client

    def send(self, pushes: Iterable[PushMessage]) -> int:
        """Sends each push as one message, 10 to a SendMessageBatch; entries the queue refused are sent again
        once, then the call raises so the scheduler retries the whole (idempotent) run."""
        n, batch = 0, []
        for push in pushes:
            batch.append(push.to_json())
            if len(batch) == BATCH:
                n += self._send_batch(batch)
                batch = []
        if batch:
            n += self._send_batch(batch)
        return n

    def _send_batch(self, bodies: list[str]) -> int:
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
        for _ in range(2):
            resp = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
            failed = {f["Id"] for f in resp.get("Failed", [])}
            if not failed:
                return len(bodies)
            entries = [e for e in entries if e["Id"] in failed]
        raise RuntimeError(f"the push queue refused {len(entries)} message(s): {sorted(failed)}")

    def send_later(self, push: PushMessage, seconds: int) -> None:
        """Sends one push that SQS hands over no sooner than `seconds` from now (at most 900)."""
        self.client.send_message(QueueUrl=self.url, MessageBody=push.to_json(), DelaySeconds=max(0, min(900, seconds)))

    def retry_after(self, receipt_handle: str, seconds: float) -> None:
        """Keeps a received message hidden for `seconds`, so SQS hands it back no earlier than that."""
        timeout = min(MAX_VISIBILITY, max(0, int(seconds + 0.999)))
        self.client.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt_handle,
                                              VisibilityTimeout=timeout)
