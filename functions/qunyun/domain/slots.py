"""Brief slots: when each group's editions are due, in 5-minute steps of its own local time.

BriefDispatch runs every 5 minutes. Each run looks at the UTC instants on the 5-minute grid it has not
dispatched yet; every timezone's offset is a whole number of 5 minutes (IANA has no other), so each instant is
one local HH:MM slot in every timezone. A group's HH:MM is rounded down to the slot it falls in (07:58 → 07:55).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

STEP = timedelta(minutes=5)
EDITIONS: tuple[str, ...] = ("morning", "evening")
# However long an outage, a run records at most a day of missed slots (each local slot occurs once a day).
LOOKBACK = timedelta(hours=24)


def slot_of(hhmm: str) -> str:
    """The 5-minute slot an HH:MM falls in."""
    hour, minute = (int(p) for p in hhmm.split(":"))
    return f"{hour:02d}:{minute - minute % 5:02d}"


def slot_key(edition: str, hhmm: str, timezone: str) -> str:
    """The dispatcher's index key of a group's edition: `morning#08:00#Asia/Shanghai`."""
    return f"{edition}#{slot_of(hhmm)}#{timezone}"


def floor_instant(instant: datetime) -> datetime:
    """The grid instant at or before an aware datetime."""
    if instant.utcoffset() is None:
        raise ValueError("expected an aware datetime")
    instant = instant.astimezone(UTC).replace(second=0, microsecond=0)
    return instant - timedelta(minutes=instant.minute % 5)


@dataclass(frozen=True)
class LocalSlot:
    instant: datetime  # UTC, on the 5-minute grid
    timezone: str
    hhmm: str
    day: date  # the local date the slot is on

    def key(self, edition: str) -> str:
        return f"{edition}#{self.hhmm}#{self.timezone}"


def local_slot(instant: datetime, timezone: str) -> LocalSlot:
    local = instant.astimezone(ZoneInfo(timezone))
    return LocalSlot(instant, timezone, f"{local:%H:%M}", local.date())


def instants_to_dispatch(now: datetime, done_until: datetime | None) -> list[datetime]:
    """The grid instants a run at `now` looks at, oldest first: every one after the last finished run (at most
    LOOKBACK back), or only `now`'s on the first run. A late or repeated run for an instant already finished
    looks at that instant alone; dispatching is idempotent, so it does no harm."""
    current = floor_instant(now)
    if done_until is None or done_until >= current:
        return [current]
    start = max(done_until + STEP, current - LOOKBACK)
    out = []
    while start <= current:
        out.append(start)
        start += STEP
    return out
