"""Members' activity as pages of messages: per group, per local day, one page per batch of events.

A page holds (message id, member id, time) for each message of its group and day in one batch, so a burst
costs one small write, not one per message. Its key is a digest of its message ids: a batch delivered again
writes the same page again. Pages of different batches may share messages (a batch split by partial
failures), so every count reads them de-duplicated by message id."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

PAGE_MESSAGES = 1000  # a page of 1,000 entries stays far below DynamoDB's 400 KB item limit


@dataclass(frozen=True)
class Sent:
    message_id: str
    member_id: str
    at: int  # Unix seconds
    checkin: bool = False  # a check-in written in the group that the ledger took (services/group_checkins.py)


@dataclass(frozen=True)
class Page:
    """A group's messages of one local day in one batch (at most PAGE_MESSAGES), with the names they showed."""

    tenant_id: str
    group_id: str
    day: date
    sent: list[Sent]
    names: dict[str, str]


def page_id(messages: Iterable[Sent]) -> str:
    ids = sorted(m.message_id for m in messages)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:20]


def pages(messages: list[Sent]) -> list[list[Sent]]:
    """The batch's messages of one group and day, in pages of at most PAGE_MESSAGES, in a stable order."""
    ordered = sorted({m.message_id: m for m in messages}.values(), key=lambda m: m.message_id)
    return [ordered[i:i + PAGE_MESSAGES] for i in range(0, len(ordered), PAGE_MESSAGES)]


@dataclass
class MemberActivity:
    messages_7d: int = 0
    messages_30d: int = 0
    last_message_at: datetime | None = None
    checkins: int = 0  # in the same 30 days


def member_activity(days: dict[date, Iterable[Sent]], today: date) -> dict[str, MemberActivity]:
    """Messages per member in the last 7 and 30 local days (today included) and the last message's time,
    from a group's pages by day, each message counted once."""
    seen: set[str] = set()
    out: dict[str, MemberActivity] = {}
    last: dict[str, int] = {}  # a member's latest message in Unix seconds, made a datetime once at the end
    for day, sent in days.items():
        age = (today - day).days
        for m in sent:
            if m.message_id in seen or not 0 <= age < 30:
                continue
            seen.add(m.message_id)
            activity = out.setdefault(m.member_id, MemberActivity())
            activity.messages_30d += 1
            activity.messages_7d += age < 7
            activity.checkins += m.checkin
            if m.at > last.get(m.member_id, m.at - 1):
                last[m.member_id] = m.at
    for member_id, at in last.items():
        out[member_id].last_message_at = datetime.fromtimestamp(at, UTC)
    return out


def window(today: date, days: int = 30) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today
