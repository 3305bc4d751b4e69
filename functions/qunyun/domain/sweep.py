"""The inactivity sweep's rules: who in a group is silent (no message for `silent_days`, or fewer than
`min_messages_30d` in 30 days), once past the newcomers' grace and the exemptions, most silent first.

Activity is counted only where the platform shows qunyun the group's messages: a WeCom customer group shows
none without the paid archive, a DingTalk group only the messages that @-mention the bot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from qunyun.domain.activity import MemberActivity
from qunyun.domain.guard_rules import SweepSection
from qunyun.domain.roster import RosterEntry

UNSEEN = {
    "wecom": "WeCom shows qunyun no customer-group messages (only with the paid conversation archive)",
    "dingtalk": "DingTalk shows qunyun only the messages that @-mention the bot",
}


@dataclass(frozen=True)
class Silent:
    member_id: str
    name: str | None
    joined_at: datetime | None
    last_message_at: datetime | None
    messages_7d: int
    messages_30d: int
    why: str  # "silent 9 days", "2 messages in 30 days"


def week_of(day: date) -> str:
    """The ISO week a sweep belongs to: a rerun in the same week finds its run already made."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def silent_members(roster: list[RosterEntry], activity: dict[str, MemberActivity], now: datetime,
                   sweep: SweepSection, exempt: set[str]) -> list[Silent]:
    """The group's members the sweep would prune, most silent first (never spoke, then the longest silent)."""
    present = {e.member_id: e for e in roster if e.status == "member"}
    out = []
    for member_id, entry in present.items():
        if member_id in exempt:
            continue
        if entry.joined_at and now - entry.joined_at < timedelta(days=sweep.newcomer_grace_days):
            continue
        seen = activity.get(member_id, MemberActivity())
        last = seen.last_message_at
        if last is None or now - last >= timedelta(days=sweep.silent_days):
            why = "never spoke" if last is None else f"silent {(now - last).days} days"
        elif seen.messages_30d < sweep.min_messages_30d:
            why = f"{seen.messages_30d} messages in 30 days"
        else:
            continue
        out.append(Silent(member_id, entry.name, entry.joined_at, last, seen.messages_7d, seen.messages_30d, why))
    never = datetime.min.replace(tzinfo=now.tzinfo)
    return sorted(out, key=lambda s: (s.last_message_at or never, s.member_id))
