"""The figures operators run their groups by, each defined once (docs/metrics.md writes the same formulas).

A group's local day is one `DayFigures`: counts only, so that the figures of many groups (a store, a sales rep,
a kind, the tenant) and of many days (a window) are the sums of theirs, and every rate is computed from those
sums by the functions below, never averaged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, timedelta

from qunyun.domain.errors import InvalidRequest

SCOPE_KINDS = ("tenant", "group", "store", "rep", "kind")
PUSH_STATUSES = ("sent", "skipped", "failed", "awaiting_owner")
ACTIVITY_SOURCES = ("messages", "checkins", "wecom_statistic")
MAX_DAYS = 400
WINDOWS = (7, 30, 90)
# Channels whose platform shows qunyun every member's message (reference/inbound.md); elsewhere check-ins are
# the activity, and WeCom customer groups have WeCom's daily statistics.
MESSAGE_CHANNELS = frozenset({"feishu_bot", "telegram_bot", "slack_webhook"})


def leave_rate(members: int, leaves: int) -> float:
    """Leaves ÷ everyone who was a member during the period (members at its end + leaves)."""
    return _ratio(leaves, members + leaves)


def active_rate(active_members: int, members: int) -> float:
    """Active members ÷ members at day end (capped at 1: a sender may leave the same day)."""
    return min(1.0, _ratio(active_members, members))


def conversion_rate(buyers: int, members: int) -> float:
    """Buyers ÷ members at the period's end (capped at 1)."""
    return min(1.0, _ratio(buyers, members))


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def activity_source(channel: str) -> str:
    if channel == "wecom_customer_group":
        return "wecom_statistic"
    return "messages" if channel in MESSAGE_CHANNELS else "checkins"


def _fair(ident: str) -> bool:
    """An id as operators write stores and reps (Chinese names too): 1-200 printable characters, no `#`."""
    return 0 < len(ident) <= 200 and ident.isprintable() and "#" not in ident


@dataclass(frozen=True)
class Scope:
    kind: str
    id: str = ""

    @classmethod
    def parse(cls, text: str | None) -> Scope:
        """`tenant`, `group:ID`, `store:ID`, `rep:ID` or `kind:KIND`; anything else is a 400 naming `scope`."""
        text = (text or "tenant").strip()
        kind, _, ident = text.partition(":")
        if kind == "tenant" and not ident or kind in SCOPE_KINDS[1:] and _fair(ident):
            return cls(kind, ident)
        raise InvalidRequest("scope must be tenant, group:ID, store:ID, rep:ID or kind:KIND.", field="scope")

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else self.kind


def check_range(start: date, end: date) -> None:
    """A range of days may run at most MAX_DAYS, from on or before to; anything else is a 400."""
    if start > end:
        raise InvalidRequest("from must be on or before to.", field="from")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidRequest(f"from..to spans more than {MAX_DAYS} days; ask for a shorter range.", field="to")


def default_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The days asked for, by default the 30 days up to yesterday (or up to `to`, or from `from`)."""
    if end is None:
        end = min(today - timedelta(days=1), start + timedelta(days=29)) if start else today - timedelta(days=1)
    start = start or end - timedelta(days=29)
    check_range(start, end)
    return start, end


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@dataclass
class DayFigures:
    """One group's local day (or the sum of several groups' or days'): counts only."""

    members: int = 0  # at the day's end
    joins: dict[str, int] = field(default_factory=dict)  # by how (invited, link, qr, unknown, ...)
    leaves: int = 0  # every departure, however it happened
    removed: int = 0  # the departures that were removals
    active_members: int = 0
    messages: int = 0
    checkins: int = 0
    points_earned: int = 0
    redemptions: int = 0
    buyers: int = 0
    pushes: dict[str, int] = field(default_factory=dict)  # by status
    skipped: dict[str, int] = field(default_factory=dict)  # skipped pushes by reason
    sources: dict[str, int] = field(default_factory=dict)  # groups by activity source
    quota_used: int | None = None  # WeCom mass sends spent in the quota period (customer groups only)
    quota_left: int | None = None
    groups: int = 0

    def add(self, other: DayFigures, *, members: bool = True) -> None:
        """Adds another group's day (or, with members=False, a later day of the same groups: members, quota
        and groups are then the later day's, as they stand at the period's end)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name in ("members", "quota_used", "quota_left", "groups", "sources") and not members:
                setattr(self, f.name, theirs)
            elif isinstance(mine, dict):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v
            elif theirs is not None:
                setattr(self, f.name, (mine or 0) + theirs)

    def stored(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, data: dict) -> DayFigures:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def activity_source(self) -> str:
        """The source of most of the groups' activity (ties in the order of ACTIVITY_SOURCES)."""
        if not self.sources:
            return "messages"
        return max(ACTIVITY_SOURCES, key=lambda s: (self.sources.get(s, 0), -ACTIVITY_SOURCES.index(s)))

    def view(self) -> dict:
        """The API.md §8 shape of a day (or of a window's total), with the detail behind its counts."""
        out = {"members": self.members, "joins": sum(self.joins.values()), "leaves": self.leaves,
               "removed": self.removed, "leave_rate": leave_rate(self.members, self.leaves),
               "active_members": self.active_members, "active_rate": active_rate(self.active_members, self.members),
               "activity_source": self.activity_source, "messages": self.messages, "checkins": self.checkins,
               "points_earned": self.points_earned, "redemptions": self.redemptions, "buyers": self.buyers,
               "conversion_rate": conversion_rate(self.buyers, self.members),
               "pushes": {s: self.pushes.get(s, 0) for s in PUSH_STATUSES},
               "joins_by_how": dict(sorted(self.joins.items())),
               "skipped_by_reason": dict(sorted(self.skipped.items())),
               "groups": self.groups}
        if self.quota_used is not None:
            out.update(quota_used=self.quota_used, quota_left=self.quota_left)
        return out


def total(days_: Iterable[DayFigures]) -> tuple[DayFigures, float]:
    """A window's figures from its days in order: counts summed, members and quota as at the last day; and the
    window's active rate, Σ active members ÷ Σ members (the member-days that were active)."""
    out, active, member_days = DayFigures(), 0, 0
    for d in days_:
        out.add(d, members=False)
        active, member_days = active + d.active_members, member_days + d.members
    return out, min(1.0, _ratio(active, member_days))


def window_view(days_: list[DayFigures]) -> dict:
    """A window's `total`: the day shape, with active members as the daily mean and the active rate over
    member-days (so a window's rate is not the rate of its last day)."""
    summed, rate = total(days_)
    view = summed.view()
    view["active_members"] = round(summed.active_members / len(days_), 2) if days_ else 0
    view["active_rate"] = rate
    return view


@dataclass(frozen=True)
class GroupLabel:
    """A group as its day was closed: what the groups page shows and filters by, and the scopes it counts in."""

    group_id: str
    name: str | None = None
    kind: str | None = None
    tags: tuple[str, ...] = ()
    store: str | None = None
    rep: str | None = None

    def scopes(self) -> list[Scope]:
        out = [Scope("tenant")]
        out += [Scope("store", self.store)] if self.store else []
        out += [Scope("rep", self.rep)] if self.rep else []
        out += [Scope("kind", self.kind)] if self.kind else []
        return out


def scope_sums(rows: Iterable[tuple[GroupLabel, DayFigures]],
               credited: dict[str, dict[tuple[str | None, str | None], DayFigures]] | None = None
               ) -> dict[str, DayFigures]:
    """Each scope's day (tenant, store:ID, rep:ID, kind:KIND) as the sum of its groups' days; where a group's day
    is split by the (store, rep) its members count for (`credited`, by group id: join links), its stores and reps
    get those parts instead of the whole."""
    out: dict[str, DayFigures] = {"tenant": DayFigures()}
    credited = credited or {}
    for label, figures in rows:
        parts = credited.get(label.group_id)
        for scope in label.scopes():
            if parts is None or scope.kind not in ("store", "rep"):
                out.setdefault(str(scope), DayFigures()).add(figures)
        for (store, rep), part in sorted((parts or {}).items(), key=str):
            for scope in ([Scope("store", store)] if store else []) + ([Scope("rep", rep)] if rep else []):
                out.setdefault(str(scope), DayFigures()).add(part)
    return out
