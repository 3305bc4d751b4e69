"""The guard's queue (SQS FIFO): the messages ProcessGroupEvents found matching a group rule wait there for
GuardOffences, a chat's in the order they were said and one batch of a chat at a time (its message group), so a
member's first and second offence are never judged side by side."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from qunyun.domain.group_events import GROUP_EVENT, Message

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SendMessageBatch takes at most 10 entries


def message_group(m: Message) -> str:
    """The chat's FIFO message group: at most 128 characters of the allowed ones, whatever its ids hold."""
    return hashlib.sha256(f"{m.tenant_id}\n{m.platform}\n{m.chat_id}".encode()).hexdigest()


def deduplication_id(m: Message) -> str:
    """The message itself: a batch sent again within SQS's five minutes (a retried ProcessGroupEvents batch)
    queues each message once."""
    return hashlib.sha256(f"{m.tenant_id}\n{m.platform}\n{m.chat_id}\n{m.message_id}".encode()).hexdigest()


class GuardQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None):
        self.url, self._client = queue_url, client

    @property
    def client(self) -> SQSClient:
        """Made on first use: most batches hold no offence and never send."""
        if self._client is None:
            import boto3  # AWS_ENDPOINT_URL_SQS points it at the local stack's endpoint

            self._client = boto3.client("sqs")
        return self._client

    def send(self, messages: list[tuple[str, Message]]) -> set[str]:
        """Queues each (record id, message), 10 to a SendMessageBatch; entries refused are sent again once.
        Returns the record ids still not queued (their records are then retried, and sent again)."""
        unsent: set[str] = set()
        for start in range(0, len(messages), BATCH):
            unsent |= self._send_batch(messages[start:start + BATCH])
        return unsent

    def _send_batch(self, keyed: list[tuple[str, Message]]) -> set[str]:
        entries = {str(i): {"Id": str(i), "MessageBody": GROUP_EVENT.dump_json(m).decode(),
                            "MessageGroupId": message_group(m), "MessageDeduplicationId": deduplication_id(m)}
                   for i, (_, m) in enumerate(keyed)}
        todo = list(entries.values())
        for _ in range(2):
            resp = self.client.send_message_batch(QueueUrl=self.url, Entries=todo)
            failed = {f["Id"] for f in resp.get("Failed", [])}
            todo = [e for e in todo if e["Id"] in failed]
            if not todo:
                return set()
        return {keyed[int(e["Id"])][0] for e in todo}
