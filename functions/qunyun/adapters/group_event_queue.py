"""The group event queue (SQS): one normalised group event per message, 10 to a SendMessageBatch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from qunyun.domain.group_events import GROUP_EVENT, GroupEvent

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10


class GroupEventQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None):
        if client is None:
            import boto3  # AWS_ENDPOINT_URL_SQS points it at the local stack's endpoint

            client = boto3.client("sqs")
        self.url, self.client = queue_url, client

    def send(self, events: Iterable[GroupEvent]) -> int:
        """Entries the queue refused are sent once more, then the call raises (the platform retries)."""
        bodies = [GROUP_EVENT.dump_json(e).decode() for e in events]
        for start in range(0, len(bodies), BATCH):
            entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start:start + BATCH])]
            for _ in range(2):
                failed = {f["Id"] for f in self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
                          .get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
                if not entries:
                    break
            if entries:
                raise RuntimeError(f"the group event queue refused {len(entries)} message(s)")
        return len(bodies)
