"""The brief queue (SQS) and BriefDispatch's checkpoint: where dispatched briefs wait for BriefSend."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import UpdateError

from qunyun.adapters.tables import BriefCheckpointItem

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SendMessageBatch takes at most 10 entries
MAX_VISIBILITY = 12 * 3600  # SQS's ceiling for a message's visibility timeout


class BriefQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None):
        if client is None:
            import boto3  # AWS_ENDPOINT_URL_SQS points it at the local stack's endpoint

            client = boto3.client("sqs")
        self.url, self.client = queue_url, client

    def send(self, bodies: Iterable[dict]) -> int:
        """Sends each body as one message, 10 to a SendMessageBatch; entries the queue refused are sent again
        once, then the call raises so the scheduler retries the whole (idempotent) run."""
        n, batch = 0, []
        for body in bodies:
            batch.append(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
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
        raise RuntimeError(f"the brief queue refused {len(entries)} message(s): {sorted(failed)}")

    def retry_after(self, receipt_handle: str, seconds: float) -> None:
        """Keeps a received message hidden for `seconds`, so SQS hands it back no earlier than that."""
        timeout = min(MAX_VISIBILITY, max(0, int(seconds + 0.999)))
        self.client.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt_handle,
                                              VisibilityTimeout=timeout)


class DispatchCheckpoint:
    """The last grid instant BriefDispatch finished; it only moves forward."""

    KEY = "~brief-dispatch"

    def __init__(self, key: str = KEY):
        self.key = key  # another key keeps a separate dispatcher's progress (tests)

    def get(self) -> datetime | None:
        try:
            return BriefCheckpointItem.get(self.key, consistent_read=True).until
        except BriefCheckpointItem.DoesNotExist:
            return None

    def advance(self, until: datetime) -> None:
        item = BriefCheckpointItem(self.key)
        try:
            item.update(actions=[BriefCheckpointItem.until.set(until)],
                        condition=BriefCheckpointItem.until.does_not_exist() | (BriefCheckpointItem.until < until))
        except UpdateError as err:
            if err.cause_response_code != "ConditionalCheckFailedException":
                raise
