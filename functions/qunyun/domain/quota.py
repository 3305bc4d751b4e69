"""The quota planner: which pushes a group receives on one local day.

Every group takes at most `daily_push_cap` qunyun pushes a local day (tenant policy, default 2); briefs,
reminders and farewells share them by priority farewell > reminder > morning brief > evening brief.
A WeCom customer group also has WeCom's mass-send quota (reference/channels.md): as many sends a calendar
month as the month has days, or, per tenant, 7 a week (Monday to Sunday in the group's timezone) or 1 a day.

Pushes of one day are decided at different times (the morning brief at 08:00, a farewell whenever its
flash group ends), so the planner works one push at a time: it is told what is already spent and which
pushes are known to come later that day, and keeps a slot for each later one that outranks this push.
A push that does not fit is skipped with the reason `daily_cap` (checked first) or `quota`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from qunyun.domain.groups import Channel

PushKind = Literal["brief", "reminder", "farewell", "checkin_reply", "welcome"]
QuotaPeriod = Literal["month", "week", "day"]
SkipReason = Literal["daily_cap", "quota"]
PUSH_KINDS: tuple[str, ...] = ("brief", "reminder", "farewell", "checkin_reply", "welcome")
# Lower ranks first: what a member would miss most is kept when slots run short.
_RANK = {("farewell", None): 0, ("reminder", None): 1, ("brief", "morning"): 2, ("brief", "evening"): 3,
         ("checkin_reply", None): 4, ("welcome", None): 5}
# Answers to what members did in the group: they spend no slot of the daily cap (and keep none), so a busy
# group's replies never crowd out its brief. Their push ids start with the kind's prefix.
FREE_PREFIXES = ("checkin.", "welcome.")
FREE_DAY = 1_000_000  # the daily "cap" a free push is held to


def is_free(push_id: str) -> bool:
    return push_id.startswith(FREE_PREFIXES)


@dataclass(frozen=True)
class Push:
    """One qunyun push to one group on one local day. `push_id` is unique within the group and day:
    spending again for the same id is a no-op, however often the caller retries."""

    kind: PushKind
    push_id: str
    edition: str | None = None  # morning | evening, for briefs

    def __post_init__(self) -> None:
        if (self.kind, self.edition) not in _RANK:
            raise ValueError(f"no priority for a {self.kind} push with edition {self.edition!r}")
        if not self.push_id or "#" in self.push_id or len(self.push_id) > 200:
            raise ValueError(f"push id {self.push_id!r}: use 1-200 characters without '#'")

    @classmethod
    def brief(cls, edition: str) -> Push:
        return cls("brief", f"brief.{edition}", edition)

    @classmethod
    def reminder(cls, event_id: str, lead: str) -> Push:
        """One reminder of an event, `lead` naming which (e.g. `eve`, `12h`, `1h`)."""
        return cls("reminder", f"reminder.{event_id}.{lead}")

    @classmethod
    def farewell(cls) -> Push:
        return cls("farewell", "farewell")

    @classmethod
    def checkin_reply(cls, window: str) -> Push:
        """The group's reply to the check-ins of one window, `window` naming its start."""
        return cls("checkin_reply", f"checkin.{window}")

    @classmethod
    def welcome(cls, window: str) -> Push:
        """The group's welcome to the members who joined in one window, `window` naming its start."""
        return cls("welcome", f"welcome.{window}")

    @property
    def free(self) -> bool:
        return is_free(self.push_id)

    @property
    def rank(self) -> int:
        return _RANK[(self.kind, self.edition)]

    def outranks(self, other: Push) -> bool:
        return self.rank < other.rank


@dataclass(frozen=True)
class Budget:
    """What limits one group's pushes: the tenant's daily cap, and for customer groups WeCom's quota."""

    daily_cap: int
    quota_period: QuotaPeriod | None = None  # None: the channel has no platform quota

    @classmethod
    def for_group(cls, channel: Channel | str, daily_push_cap: int, quota_period: QuotaPeriod) -> Budget:
        quota = quota_period if Channel(channel) is Channel.wecom_customer_group else None
        return cls(daily_cap=daily_push_cap, quota_period=quota)

    def period_of(self, day: date) -> str | None:
        """The key of the quota period holding the local `day` (`period_key`); None without a quota."""
        return period_key(self.quota_period, day) if self.quota_period else None


@dataclass(frozen=True)
class Spent:
    """What a group has already spent: pushes on the day, and mass sends in the quota period."""

    day: int = 0
    period: int = 0
    pushes: frozenset[str] = frozenset()  # ids of the pushes spent on the day
    begun: bool = False  # something was recorded on the day already (it is written to, not started)
    period_held: bool = False  # the push being decided holds a mass send of the period (not in `period`)


@dataclass(frozen=True)
class Allowance:
    """This push may take a slot while fewer than `day` pushes are spent on the day and, when `period`
    is set, fewer than `period` mass sends in the quota period `period_key`."""

    day: int
    period: int | None = None
    period_key: str | None = None


@dataclass(frozen=True)
class Decision:
    push: Push
    take: bool
    reason: SkipReason | None = None
    already: bool = False  # the push had spent its slot before; nothing more is spent


def local_day(instant: datetime, timezone: str) -> date:
    """The group's local date at an instant (an aware datetime)."""
    if instant.utcoffset() is None:
        raise ValueError("expected an aware datetime")
    return instant.astimezone(ZoneInfo(timezone)).date()


def quota_limit(period: QuotaPeriod, day: date) -> int:
    """Mass sends a customer group may receive in the period containing `day`."""
    if period == "month":
        return calendar.monthrange(day.year, day.month)[1]
    return 7 if period == "week" else 1


def period_key(period: QuotaPeriod, day: date) -> str:
    """Names the quota period containing the local `day`: M2026-11, W2026-W48 (ISO week, Monday first), D2026-11-25."""
    if period == "month":
        return f"M{day.year:04d}-{day.month:02d}"
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"W{year:04d}-W{week:02d}"
    return f"D{day.isoformat()}"


def _reserved(push: Push, later: Iterable[Push], spent: frozenset[str]) -> int:
    """Later pushes of the day that outrank this one and have not spent yet: each keeps its slot."""
    return len({p.push_id for p in later if p.outranks(push) and p.push_id != push.push_id} - spent)


def allowance(push: Push, day: date, budget: Budget, later: Iterable[Push] = (),
              spent: frozenset[str] = frozenset()) -> Allowance:
    """The limits this push is held to, after keeping a slot for every later push that outranks it."""
    reserved = _reserved(push, later, spent)
    if push.free:
        return Allowance(day=FREE_DAY)
    if budget.quota_period is None:
        return Allowance(day=budget.daily_cap - reserved)
    return Allowance(day=budget.daily_cap - reserved,
                     period=quota_limit(budget.quota_period, day) - reserved,
                     period_key=period_key(budget.quota_period, day))


def decide(push: Push, day: date, budget: Budget, spent: Spent, later: Iterable[Push] = ()) -> Decision:
    """Whether `push` takes a slot on the group's local `day`, given what is spent and the pushes known to
    come later that day (those that outrank it keep their slots)."""
    if push.push_id in spent.pushes:
        return Decision(push, take=True, already=True)
    limits = allowance(push, day, budget, later, spent.pushes)
    if spent.day >= limits.day:
        return Decision(push, take=False, reason="daily_cap")
    if limits.period is not None and spent.period >= limits.period:
        return Decision(push, take=False, reason="quota")
    return Decision(push, take=True)
