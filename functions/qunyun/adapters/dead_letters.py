"""How many messages each dead-letter queue holds: SQS's ApproximateNumberOfMessages, one GetQueueAttributes a
queue (the console's today page; the alarms watch the same queues in CloudWatch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class DeadLetterCounts:
    def __init__(self, queue_urls: tuple[str, ...], client: SQSClient | Any | None = None):
        self.urls, self._client = queue_urls, client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            import boto3  # AWS_ENDPOINT_URL_SQS points it at the local stack's endpoint

            self._client = boto3.client("sqs")
        return self._client

    def counts(self) -> dict[str, int | None]:
        """Queue name → messages parked in it; None where SQS did not answer (the page says so, it does not fail)."""
        out: dict[str, int | None] = {}
        for url in self.urls:
            name = url.rstrip("/").rsplit("/", 1)[-1]
            try:
                attrs = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                out[name] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
            except Exception:  # noqa: BLE001 - a missing queue or a denied call is shown as unknown
                out[name] = None
        return out
