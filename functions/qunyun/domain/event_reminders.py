"""Events: what an operator announces (API.md §4), the groups it targets, and each group's reminder ladder.

An event is planned when it is added or moved (`planned_at`): the groups it targets are resolved then (a group
imported later joins only when the event is added again or moved), and each group's ladder is planned in its
own timezone with the tenant's ladder and quiet hours (domain/reminders.py). The plan is stored with the event,
so SendReminders and `events plan` read the same rungs, and a queued reminder can tell whether it still
applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from qunyun.domain.briefs import dotted, problems
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.groups import Group, Kind
from qunyun.domain.groups import Status as GroupStatus
from qunyun.domain.reminders import PlannedRung, QuietHours, parse_ladder, plan

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Plan skips that are written as skipped delivery records, so `deliveries list` says why a rung never came.
RECORDED_SKIPS = frozenset({"passed", "quiet_hours", "after_start"})


def parse_instant(text: str, what: str = "starts_at") -> datetime:
    """An ISO 8601 time with its offset (the operator's wall clock is never guessed)."""
    try:
        when = datetime.fromisoformat(text.strip()) if isinstance(text, str) else None
    except ValueError:
        when = None
    if when is None:
        raise ValueError(f"{what} {text!r}: write an ISO 8601 time such as 2026-11-29T20:00:00+08:00")
    if when.utcoffset() is None:
        raise ValueError(f"{what} {text!r}: give the offset, e.g. +08:00")
    return when


class Targets(BaseModel):
    """The groups an event is for: any group named by id, of one of the kinds, or with one of the tags."""

    model_config = {"extra": "forbid"}

    ids: list[str] = Field(default_factory=list, max_length=2000)
    kinds: list[Kind] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _some(self) -> Targets:
        if not (self.ids or self.kinds or self.tags):
            raise ValueError("name at least one group id, kind or tag")
        return self

    def match(self, group: Group) -> bool:
        return (group.group_id in self.ids or group.kind in self.kinds
                or any(t in self.tags for t in group.tags))


class Event(BaseModel):
    model_config = {"extra": "forbid"}

    id: str
    title: str = Field(min_length=1, max_length=200)
    starts_at: datetime
    link: str | None = Field(None, max_length=1000)
    groups: Targets

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"id {v!r}: 1-64 letters, digits, '-' or '_', starting with a letter or digit")
        return v

    @field_validator("starts_at", mode="before")
    @classmethod
    def _starts(cls, v: Any) -> datetime:
        return parse_instant(v) if isinstance(v, str) else v

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.utcoffset() is None:
            raise ValueError("give the offset, e.g. +08:00")
        return v

    @field_validator("link")
    @classmethod
    def _link(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError("a link starts with https:// or http://")
        return v


class EventFile(BaseModel):
    model_config = {"extra": "forbid"}

    events: list[Event] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _unique(self) -> EventFile:
        ids = [e.id for e in self.events]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"each event id once in a file: {', '.join(twice)} repeated")
        return self


def parse_events(data: Any, source: str = "the events file",
                 line_of: Callable[[tuple], int | None] = lambda _: None) -> list[Event]:
    """Checks an events file as the operator wrote it; every problem is reported at once, with its place."""
    try:
        return EventFile.model_validate(data).events
    except ValidationError as e:
        errors = []
        for path, msg in problems(e, data):
            line = line_of(path)
            msg = msg.replace("docs/briefs.md lists the keys of each section", "API.md §4 lists an event's keys")
            errors.append(f"{f'line {line}, ' if line else ''}{dotted(path) or 'events'}: {msg}")
        raise InvalidRequest(f"{source}: " + "; ".join(errors[:20]) + ". Nothing was changed.") from None


class GroupLadder(BaseModel):
    """One targeted group's rungs, as planned; `channel` and `owner` let SendReminders queue without reading
    the group again (customer groups travel per owner)."""

    group_id: str
    channel: str
    owner: str | None = None
    timezone: str
    rungs: list[dict]  # {lead, nominal, due, skip, moved}: PlannedRung with ISO times


class StoredEvent(BaseModel):
    """An event as stored: what the operator wrote, its state and each group's ladder."""

    tenant_id: str
    event: Event
    status: Literal["active", "cancelled"] = "active"
    planned_at: datetime
    version: int = 1
    ladders: list[GroupLadder] = Field(default_factory=list)
    # Rungs due at or before this instant have been queued (SendReminders' progress through the plan).
    fired_until: datetime | None = None
    cancelled_at: datetime | None = None
    # With `cancel --notify`: when the cancellation notices are due, and when SendReminders queued them.
    notify_due: datetime | None = None
    notified_at: datetime | None = None

    def ladder(self, group_id: str) -> GroupLadder | None:
        return next((g for g in self.ladders if g.group_id == group_id), None)

    def next_due(self, after: datetime | None) -> datetime | None:
        """The earliest rung (or cancellation notice) still to queue after `after` (all of them when None)."""
        if self.status != "active":
            return self.notify_due if self.notified_at is None else None
        dues = [datetime.fromisoformat(r["due"]) for g in self.ladders for r in g.rungs if r["due"]]
        dues = [d for d in dues if after is None or d > after]
        return min(dues) if dues else None


def _rung(r: PlannedRung) -> dict:
    return {"lead": r.lead, "nominal": r.nominal.isoformat(), "due": r.due.isoformat() if r.due else None,
            "skip": r.skip, "moved": r.moved}


def plan_ladders(event: Event, groups: list[Group], tenant_timezone: str, ladder: list[str], quiet_hours: str,
                 planned_at: datetime) -> list[GroupLadder]:
    """Each targeted active group's ladder, in its own timezone."""
    rungs, quiet = parse_ladder(ladder), QuietHours.parse(quiet_hours)
    out = []
    for group in groups:
        if group.status is not GroupStatus.active or not event.groups.match(group):
            continue
        zone = group.effective_timezone(tenant_timezone)
        planned = plan(event.starts_at.astimezone(UTC), zone, rungs, quiet, planned_at)
        out.append(GroupLadder(group_id=group.group_id, channel=group.channel.value, owner=group.owner,
                               timezone=zone, rungs=[_rung(r) for r in planned]))
    return out
