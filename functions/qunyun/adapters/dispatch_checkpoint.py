"""BriefDispatch's checkpoint: the last grid instant it finished, so a run resumes the slots it missed."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError

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
