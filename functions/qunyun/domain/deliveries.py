"""Deliveries: one record per push to a group, saying what became of it and why (API.md §5)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from qunyun.domain.quota import Push


class Status(StrEnum):
    planned = "planned"  # took its slot; not sent yet
    sent = "sent"
    skipped = "skipped"  # never sent, for `reason` (daily_cap, quota, a missed slot, a template error)
    failed = "failed"  # the channel refused it for good, or retries ran out
    awaiting_owner = "awaiting_owner"  # a WeCom mass-send task the group owner has not confirmed yet
    cancelled = "cancelled"  # an unconfirmed mass-send task cancelled when its edition went stale


# Where a record may go from each status; sent, skipped and cancelled are final.
MOVES: dict[Status, frozenset[Status]] = {
    Status.planned: frozenset({Status.planned, Status.sent, Status.skipped, Status.failed, Status.awaiting_owner,
                               Status.cancelled}),
    Status.awaiting_owner: frozenset({Status.awaiting_owner, Status.sent, Status.failed, Status.cancelled}),
    Status.failed: frozenset({Status.failed}),
    Status.sent: frozenset(),
    Status.skipped: frozenset(),
    Status.cancelled: frozenset(),
}


class Delivery(BaseModel):
    tenant_id: str
    group_id: str
    date: date  # the group's local date
    kind: str  # brief | reminder | farewell
    edition: str | None = None
    push_id: str
    channel: str
    status: Status
    reason: str | None = None
    attempts: int = 0
    error: str | None = None
    message_ids: list[str] = Field(default_factory=list)
    quota_period: str | None = None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None

    @classmethod
    def of(cls, tenant_id: str, group_id: str, day: date, push: Push, channel: str, status: Status,
           now: datetime, reason: str | None = None, quota_period: str | None = None) -> Delivery:
        return cls(tenant_id=tenant_id, group_id=group_id, date=day, kind=push.kind, edition=push.edition,
                   push_id=push.push_id, channel=channel, status=status, reason=reason, quota_period=quota_period,
                   created_at=now, updated_at=now)
