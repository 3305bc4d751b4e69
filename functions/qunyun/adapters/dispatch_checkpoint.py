"""BriefDispatch's checkpoints: the last grid instant it planned, so a run resumes the slots it missed, and the
pages of a slot already queued, so a page handled twice queues its pushes once."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import PutError, UpdateError

from qunyun.adapters.tables import BriefCheckpointItem


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


class PageCheckpoint:
    """The dispatch pages whose pushes are queued: one small item a page (one write unit), named by the page's
    slot and digest (domain/dispatch_pages.py), so concurrent pages never contend for one item."""

    PREFIX = "~brief-dispatch-page#"

    def __init__(self, prefix: str = PREFIX):
        self.prefix = prefix  # another prefix keeps a separate dispatcher's pages (tests, benchmarks)

    def _key(self, slot_id: str, digest: str) -> str:
        return f"{self.prefix}{slot_id}#{digest}"

    def done(self, slot_id: str, digest: str) -> bool:
        try:
            BriefCheckpointItem.get(self._key(slot_id, digest), consistent_read=True)
            return True
        except BriefCheckpointItem.DoesNotExist:
            return False

    def mark(self, slot_id: str, digest: str, at: datetime) -> None:
        try:
            BriefCheckpointItem(self._key(slot_id, digest), until=at).save(
                condition=BriefCheckpointItem.tenant_id.does_not_exist())
        except PutError as err:
            if err.cause_response_code != "ConditionalCheckFailedException":
                raise
