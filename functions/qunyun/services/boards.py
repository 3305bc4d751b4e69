"""Leaderboards: members ranked on points earned in a day, week or month, per tenant and per group.

They are a derived, eventually consistent view (reference/ledger.md 25): SettlePoints builds and stores
the boards of each finished day at 02:00 local; a period still running is computed when asked for.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from qunyun.domain.errors import InvalidRequest
from qunyun.services.ledger_ports import BoardStore

TOP = 500
PERIODS = ("day", "week", "month")


def period_days(period: str, day: date) -> list[date]:
    if period == "day":
        return [day]
    if period == "week":  # ISO week, Monday to Sunday
        start = day - timedelta(days=day.weekday())
        return [start + timedelta(days=i) for i in range(7)]
    start = day.replace(day=1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [start + timedelta(days=i) for i in range((end - start).days)]


def period_key(period: str, day: date) -> str:
    return str(period_days(period, day)[0])


def earnings(ledger: BoardStore, tenant_id: str, days: list[date]) -> dict[str, Counter]:
    """scope → member → net points earned over the days ("tenant" and "group:{id}" scopes)."""
    totals: dict[str, Counter] = {"tenant": Counter()}
    for day in days:
        for member, group_id, points in ledger.earnings_on(tenant_id, str(day)):
            totals["tenant"][member] += points
            if group_id:
                totals.setdefault(f"group:{group_id}", Counter())[member] += points
    return totals


def ranked(totals: Counter, limit: int = TOP) -> list[dict]:
    """Competition ranking (1, 2, 2, 4) on points, ties broken by member id for a stable order."""
    rows = sorted(((m, p) for m, p in totals.items() if p > 0), key=lambda mp: (-mp[1], mp[0]))[:limit]
    out, rank = [], 0
    for i, (member, points) in enumerate(rows):
        if i == 0 or points != rows[i - 1][1]:
            rank = i + 1
        out.append({"rank": rank, "member_id": member, "points": points})
    return out


def boards_built(ledger: BoardStore, tenant_id: str, day: date) -> bool:
    """Whether SettlePoints has stored every board of the tenant's day."""
    return ledger.boards_built(tenant_id, str(day))


def build_boards(ledger: BoardStore, tenant_id: str, day: date, now: datetime) -> int:
    """Stores the day, week and month boards that contain `day`, for the tenant and every group."""
    built = 0
    for period in PERIODS:
        days = [d for d in period_days(period, day) if d <= day]
        for scope, totals in earnings(ledger, tenant_id, days).items():
            ledger.save_board(tenant_id, scope, period, period_key(period, day), ranked(totals), str(day), now)
            built += 1
    return built


def leaderboard(tenant_id: str, scope: str, period: str, day: date, limit: int, *, ledger: BoardStore,
                now: datetime) -> dict:
    if period not in PERIODS:
        raise InvalidRequest("period must be day, week or month.", field="period")
    if not (scope == "tenant" or (scope.startswith("group:") and len(scope) > 6)):
        raise InvalidRequest("scope must be tenant or group:{group_id}.", field="scope")
    if not 1 <= limit <= TOP:
        raise InvalidRequest(f"limit must be between 1 and {TOP}.", field="limit")
    stored = ledger.board(tenant_id, scope, period, period_key(period, day))
    if stored is not None and stored.through >= str(max(period_days(period, day))):
        return {"entries": stored.entries[:limit], "as_of": stored.as_of.isoformat()}
    totals = earnings(ledger, tenant_id, period_days(period, day)).get(scope, Counter())
    return {"entries": ranked(totals, limit), "as_of": now.isoformat()}
