"""The events repository: one item per event in the content table, carrying its next due rung in the `due`
index (adapters/due.py) while it has one left, so SendReminders finds what is due without a Scan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pynamodb.exceptions import PutError

from qunyun.adapters.due import due_items, due_keys
from qunyun.adapters.tables import EventItem
from qunyun.domain.event_reminders import StoredEvent

KIND = "event"


def _key(tenant_id: str, event_id: str) -> tuple[str, str]:
    return f"{tenant_id}#EVENTS", event_id


def _item(stored: StoredEvent, now: datetime) -> EventItem:
    item = EventItem(*_key(stored.tenant_id, stored.event.id), event=stored.model_dump(mode="json"),
                     version=stored.version, updated_at=now)
    due = stored.next_due(stored.fired_until)
    if due is not None:
        keys = due_keys(KIND, stored.tenant_id, stored.event.id, due)
        item.due_pk, item.due_sk = keys["due_pk"], keys["due_sk"]
    return item


class EventRepository:
    def get(self, tenant_id: str, event_id: str) -> StoredEvent | None:
        try:
            item = EventItem.get(*_key(tenant_id, event_id), consistent_read=True)
        except EventItem.DoesNotExist:
            return None
        return StoredEvent.model_validate(item.event)

    def save(self, stored: StoredEvent, now: datetime, expected_version: int | None) -> bool:
        """Writes the event and its due keys (none when no rung is left) if the stored version is still
        `expected_version` (None: there is no stored event); False when another write came first."""
        item = _item(stored, now)
        condition = (EventItem.pk.does_not_exist() if expected_version is None
                     else EventItem.version == expected_version)
        try:
            item.save(condition=condition)
            return True
        except PutError as e:
            if getattr(e, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise

    def due(self, until: datetime) -> Iterator[StoredEvent]:
        """Every event, of any tenant, with a rung due at or before `until`."""
        for item in due_items(EventItem, KIND, until):
            yield StoredEvent.model_validate(item.event)
