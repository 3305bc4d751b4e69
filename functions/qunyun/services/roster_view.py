"""`qunyun members list`: a group's roster with each member's messages in the last 7 and 30 local days and the
time of their last message; members who spoke without a join on record are listed too."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from qunyun.domain.activity import Sent, member_activity, window
from qunyun.domain.roster import RosterEntry

COLUMNS = ("member_id", "name", "joined_at", "joined_how", "left_at", "left_how", "messages_7d", "messages_30d",
           "last_message_at", "checkins")


class RosterReader(Protocol):
    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]: ...


class ActivityReader(Protocol):
    def read(self, tenant_id: str, group_id: str, first: date, last: date
             ) -> tuple[dict[date, list[Sent]], dict[str, str]]: ...


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def members(tenant_id: str, group_id: str, today: date, *, roster: RosterReader, activity: ActivityReader
            ) -> list[dict]:
    """One row per member (API.md §6 columns), members first, then those who left, each by join time."""
    days, names = activity.read(tenant_id, group_id, *window(today))
    counts = member_activity(days, today)
    entries = {e.member_id: e for e in roster.entries(tenant_id, group_id)}
    rows = []
    for member_id in sorted(set(entries) | set(counts)):
        e, a = entries.get(member_id), counts.get(member_id)
        rows.append({
            "member_id": member_id, "name": (e.name if e and e.name else names.get(member_id)),
            "joined_at": _iso(e.joined_at) if e else None, "joined_how": e.joined_how if e else None,
            "left_at": _iso(e.left_at) if e and e.status == "left" else None,
            "left_how": e.left_how if e and e.status == "left" else None,
            "messages_7d": a.messages_7d if a else 0, "messages_30d": a.messages_30d if a else 0,
            "last_message_at": _iso(a.last_message_at) if a else None,
            "checkins": a.checkins if a else 0,
        })
    return sorted(rows, key=lambda r: (r["left_at"] is not None, r["joined_at"] or "", r["member_id"]))
