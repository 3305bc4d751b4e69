"""Event reminders: the ladder of pushes that announce an event to a group, in the group's local time.

A ladder is a list of rungs, each either a local time on the evening before (`eve@20:00`) or a lead before
the start (`12h`, `1h`, `90m`). A rung never lands in the tenant's quiet hours (default 22:00-08:00 local):
it moves to the end of them if that is still before the event, else it is skipped. A rung whose time had
already passed when the event was added or moved is skipped, never sent late; two rungs landing at the same
time are one push (the later rung's). Plans are pure: the same event, ladder and clock give the same plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_LADDER: tuple[str, ...] = ("eve@20:00", "12h", "1h")
DEFAULT_QUIET_HOURS = "22:00-08:00"
_RUNG = re.compile(r"^(?:eve@(?P<eve>([01]\d|2[0-3]):[0-5]\d)|(?P<n>[1-9]\d{0,3})(?P<unit>[hm]))$")
_QUIET = re.compile(r"^(?P<start>([01]\d|2[0-3]):[0-5]\d)-(?P<end>([01]\d|2[0-3]):[0-5]\d)$")
MAX_LEAD = timedelta(days=14)


def _hhmm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


@dataclass(frozen=True)
class Rung:
    """One step of a ladder; `lead` names it in push ids and plans (`eve`, `12h`, `1h`)."""

    lead: str
    eve_at: time | None = None  # a local time on the day before the event's local date
    before: timedelta | None = None  # or this long before the start

    @classmethod
    def parse(cls, text: str) -> Rung:
        m = _RUNG.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"rung {text!r}: write eve@HH:MM (the evening before) or a lead such as 12h or 90m")
        if m["eve"]:
            return cls("eve", eve_at=_hhmm(m["eve"]))
        n = int(m["n"])
        before = timedelta(hours=n) if m["unit"] == "h" else timedelta(minutes=n)
        if before > MAX_LEAD:
            raise ValueError(f"rung {text!r}: a lead of at most 14 days")
        return cls(f"{n}{m['unit']}", before=before)

    def nominal(self, starts_at: datetime, zone: ZoneInfo) -> datetime:
        """When the rung falls before quiet hours are applied (UTC)."""
        if self.before is not None:
            return starts_at - self.before
        eve = starts_at.astimezone(zone).date() - timedelta(days=1)
        return datetime.combine(eve, self.eve_at, zone).astimezone(UTC)


def parse_ladder(rungs: list[str] | tuple[str, ...]) -> tuple[Rung, ...]:
    """Checks a ladder: 1-6 rungs, each named once."""
    parsed = tuple(Rung.parse(r) for r in rungs)
    if not 1 <= len(parsed) <= 6:
        raise ValueError("a reminder ladder has 1 to 6 rungs")
    leads = [r.lead for r in parsed]
    if len(set(leads)) != len(leads):
        raise ValueError(f"a reminder ladder names each rung once: {leads}")
    return parsed


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        m = _QUIET.match(text.strip()) if isinstance(text, str) else None
        if m is None or m["start"] == m["end"]:
            raise ValueError(f"quiet hours {text!r}: write HH:MM-HH:MM, e.g. 22:00-08:00")
        return cls(_hhmm(m["start"]), _hhmm(m["end"]))

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # the window spans midnight

    def end_after(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """The first end of quiet hours after an instant that lies inside them (UTC)."""
        local = instant.astimezone(zone)
        day = local.date() if local.time() < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, zone).astimezone(UTC)


@dataclass(frozen=True)
class PlannedRung:
    """A rung for one group: `due` (UTC) when it will be sent, or the reason it will not."""

    lead: str
    nominal: datetime
    due: datetime | None
    skip: str | None = None  # passed | quiet_hours | after_start | merged
    moved: bool = False  # moved out of quiet hours


def plan(starts_at: datetime, timezone: str, ladder: tuple[Rung, ...], quiet: QuietHours,
         planned_at: datetime) -> list[PlannedRung]:
    """The ladder of one event for a group in `timezone`, planned at `planned_at` (when the event was added or
    last moved), earliest rung first."""
    if starts_at.utcoffset() is None or planned_at.utcoffset() is None:
        raise ValueError("expected aware datetimes")
    zone = ZoneInfo(timezone)
    rungs = []
    for rung in ladder:
        nominal = rung.nominal(starts_at, zone)
        due, moved, skip = nominal, False, None
        if quiet.contains(nominal.astimezone(zone).time()):
            due, moved = quiet.end_after(nominal, zone), True
        if due >= starts_at:
            skip = "quiet_hours" if moved else "after_start"
        elif due <= planned_at:
            skip = "passed"
        rungs.append(PlannedRung(rung.lead, nominal, None if skip else due, skip, moved))
    rungs.sort(key=lambda r: r.nominal)
    out = []
    for i, r in enumerate(rungs):
        later = [n.due for n in rungs[i + 1:] if n.due is not None]
        if r.due is not None and later and min(later) <= r.due:
            r = PlannedRung(r.lead, r.nominal, None, "merged", r.moved)  # a later rung lands at the same time
        out.append(r)
    return out
