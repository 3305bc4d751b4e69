"""A group's local day from what qunyun recorded of it (docs/metrics.md): its roster, its activity pages, the
ledger's earning entries of the day, its delivery records and, for a WeCom customer group, its share of its
owner's WeCom statistics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from qunyun.domain.activity import Sent
from qunyun.domain.metrics import DayFigures, activity_source
from qunyun.domain.roster import RosterEntry


@dataclass(frozen=True)
class Earning:
    """An entry of the ledger's day as its pages list it: who, in which group, how many points, from what."""

    member_id: str
    group_id: str | None
    points: int
    source_type: str | None


@dataclass(frozen=True)
class OwnerDay:
    """What WeCom's `statistic_group_by_day` says of one owner's customer groups on one day."""

    chat_has_msg: int = 0
    member_has_msg: int = 0
    msg_total: int = 0
    new_member_cnt: int = 0
    member_total: int = 0


@dataclass(frozen=True)
class GroupSources:
    """Everything a group's day is computed from."""

    channel: str
    timezone: str
    roster: list[RosterEntry]
    sent: list[Sent]
    earnings: list[Earning]  # the group's entries only
    pushes: list[tuple[str, str | None]]  # (status, reason) of each delivery record of the day
    redemptions: int = 0
    quota: tuple[int, int] | None = None  # (used, limit) of its WeCom quota period


def bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The day's first instant and the next day's, in the timezone."""
    tz = ZoneInfo(timezone)
    return datetime.combine(day, time(), tz), datetime.combine(day + timedelta(days=1), time(), tz)


def member_at(entry: RosterEntry, at: datetime) -> bool:
    """Whether the roster entry was a member just before an instant (a day's members are those just before its
    end; a join or leave at the instant itself belongs to the next day). An entry keeps its last join and last
    leave: a member who left and came back was a member before the leave and again from the join."""
    joined, left = entry.joined_at, entry.left_at
    if entry.status == "member":
        if joined is None or joined < at:
            return True
        return left is not None and left <= joined and at <= left
    return left is not None and at <= left and (joined is None or joined < at)


def _in(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def roster_figures(entries: Iterable[RosterEntry], start: datetime, end: datetime) -> DayFigures:
    """Members at the day's end, joins by how, leaves and removals of the day."""
    out = DayFigures()
    for e in entries:
        out.members += member_at(e, end)
        if _in(e.joined_at, start, end):
            how = e.joined_how or "unknown"
            out.joins[how] = out.joins.get(how, 0) + 1
        # A leave is kept while the entry says left, or came back after it (the rejoin keeps left_at).
        if _in(e.left_at, start, end) and (e.status == "left" or (e.joined_at and e.joined_at > e.left_at)):
            out.leaves += 1
            out.removed += e.left_how == "removed"
    return out


def group_day(day: date, src: GroupSources) -> DayFigures:
    start, end = bounds(day, src.timezone)
    out = roster_figures(src.roster, start, end)
    messages = {m.message_id: m.member_id for m in src.sent}
    checkers = {e.member_id for e in src.earnings if e.source_type == "checkin"}
    # A customer group's activity is its share of its owner's WeCom day, put in by `with_statistic`; until then
    # (and without statistics) it counts check-ins like any group whose platform shows no messages.
    source = "messages" if activity_source(src.channel) == "messages" else "checkins"
    out.messages = len(messages)
    out.active_members = len(set(messages.values())) if source == "messages" else len(checkers)
    out.checkins = sum(1 for e in src.earnings if e.source_type == "checkin")
    out.points_earned = sum(e.points for e in src.earnings)
    out.buyers = len({e.member_id for e in src.earnings if e.source_type == "purchase"})
    out.redemptions = src.redemptions
    statuses = Counter(status for status, _ in src.pushes)
    out.pushes = {s: n for s, n in statuses.items() if s in ("sent", "skipped", "failed", "awaiting_owner")}
    out.skipped = dict(Counter(reason or "unknown" for status, reason in src.pushes if status == "skipped"))
    if src.quota is not None:
        out.quota_used, out.quota_left = src.quota[0], max(0, src.quota[1] - src.quota[0])
    out.sources, out.groups = {source: 1}, 1
    return out


Credit = tuple[str | None, str | None]  # the (store, rep) a member counts for (domain/links.py `credited`)


def credited_days(day: date, src: GroupSources, own: Credit, credit: Callable[[RosterEntry], Credit],
                  redeemed: dict[str, int]) -> dict[Credit, DayFigures] | None:
    """The group's day split by the (store, rep) each member counts for: a member a join link of another store or
    rep brought counts there, everyone else (and whatever no roster entry names) for the group's own. The group's
    pushes, quota and its count as a group stay with its own. None when every member counts for the group's own,
    as without join links."""
    credits = {e.member_id: credit(e) for e in src.roster}
    if all(c == own for c in credits.values()):
        return None
    _, end = bounds(day, src.timezone)
    parts = {}
    for key in sorted(set(credits.values()) | {own}, key=str):
        mine = key == own

        def counts(member_id: str, key=key, mine=mine) -> bool:
            return credits.get(member_id, own) == key if mine else credits.get(member_id) == key

        roster = [e for e in src.roster if counts(e.member_id)]
        part = group_day(day, GroupSources(
            src.channel, src.timezone, roster, [m for m in src.sent if counts(m.member_id)],
            [e for e in src.earnings if counts(e.member_id)], src.pushes if mine else [],
            redemptions=sum(redeemed.get(e.member_id, 0) for e in roster if member_at(e, end)),
            quota=src.quota if mine else None))
        part.groups = 1 if mine else 0
        parts[key] = part
    return parts


def split(amount: int, weights: dict[str, int]) -> dict[str, int]:
    """`amount` shared in proportion to the weights, by largest remainder (ties by key), so the shares add up to
    it exactly; all weights zero shares it equally."""
    if not weights:
        return {}
    keys = sorted(weights)
    whole = sum(weights.values())
    raw = {k: amount * (weights[k] if whole else 1) / (whole or len(keys)) for k in keys}
    shares = {k: int(v) for k, v in raw.items()}
    rest = amount - sum(shares.values())
    for k in sorted(keys, key=lambda k: (-(raw[k] - shares[k]), k))[:rest]:
        shares[k] += 1
    return shares


def with_statistic(figures: DayFigures, active_members: int, messages: int) -> DayFigures:
    """A customer group's day with its share of its owner's WeCom statistics as its activity."""
    figures.active_members, figures.messages = active_members, messages
    figures.sources = {"wecom_statistic": 1}
    return figures


def shared_statistic(figures: DayFigures, parts: dict[Credit, DayFigures]) -> None:
    """A customer group's WeCom activity (which names no member) shared over its credited parts in proportion to
    their members, as an owner's day is shared over the owner's groups."""
    if figures.sources != {"wecom_statistic": 1}:
        return
    weights = {str(k): p.members for k, p in parts.items()}
    active, messages = split(figures.active_members, weights), split(figures.messages, weights)
    for k, part in parts.items():
        part.active_members, part.messages = active[str(k)], messages[str(k)]
        part.sources = {"wecom_statistic": 1}
