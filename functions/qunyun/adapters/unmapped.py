"""Events of chats no group names yet: one summary per chat (30 days after its last event) and its events
(7 days each), at most 1,000 per chat. An event's slot is a digest of its id, so a repeated event takes its
own slot again and a busy chat's newer events overwrite older ones at random, never growing the chat."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import PutError

from qunyun.adapters.community_tables import UnmappedChatItem, UnmappedEventItem
from qunyun.adapters.tables import conditional_failed
from qunyun.domain.group_events import GROUP_EVENT, GroupEvent

SLOTS = 1000
EVENT_DAYS, CHAT_DAYS = 7, 30


@dataclass(frozen=True)
class UnmappedChat:
    platform: str
    chat_id: str
    first_seen: datetime
    last_seen: datetime
    event_count: int


def _slot(event_id: str) -> str:
    return f"{int(hashlib.sha256(event_id.encode()).hexdigest()[:8], 16) % SLOTS:03d}"


class UnmappedStore:
    def keep(self, tenant_id: str, platform: str, chat_id: str, events: list[GroupEvent], now: datetime) -> int:
        """Stores the events not stored already and counts them on the chat's summary; returns how many."""
        new = 0
        for event in {e.event_id: e for e in events}.values():  # a batch may hold one event twice
            item = UnmappedEventItem(f"{tenant_id}#UNMAPPED#{platform}#{chat_id}", _slot(event.event_id),
                                     event_id=event.event_id, occurred_at=event.occurred_at,
                                     event=GROUP_EVENT.dump_json(event).decode(),
                                     expires=now + timedelta(days=EVENT_DAYS))
            try:
                item.save(condition=UnmappedEventItem.event_id.does_not_exist()
                          | (UnmappedEventItem.event_id != event.event_id))
                new += 1
            except PutError as err:
                if not conditional_failed(err):
                    raise
        summary = UnmappedChatItem(f"{tenant_id}#UNMAPPED", f"{platform}#{chat_id}")
        summary.update(actions=[UnmappedChatItem.platform.set(platform), UnmappedChatItem.chat_id.set(chat_id),
                                UnmappedChatItem.first_seen.set(UnmappedChatItem.first_seen | now),
                                UnmappedChatItem.last_seen.set(now), UnmappedChatItem.event_count.add(new),
                                UnmappedChatItem.expires.set(now + timedelta(days=CHAT_DAYS))])
        return new

    def chats(self, tenant_id: str, now: datetime) -> list[UnmappedChat]:
        """The chats not yet expired (DynamoDB deletes expired items within a few days, not at once)."""
        return [UnmappedChat(i.platform, i.chat_id, i.first_seen, i.last_seen, int(i.event_count or 0))
                for i in UnmappedChatItem.query(f"{tenant_id}#UNMAPPED") if not i.expires or i.expires > now]

    def events(self, tenant_id: str, platform: str, chat_id: str, now: datetime) -> list[GroupEvent]:
        items = UnmappedEventItem.query(f"{tenant_id}#UNMAPPED#{platform}#{chat_id}")
        return sorted((GROUP_EVENT.validate_json(i.event) for i in items if not i.expires or i.expires > now),
                      key=lambda e: e.occurred_at)
