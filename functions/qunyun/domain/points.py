"""Ledger arithmetic: integer points, program days, streaks, caps, expiry dates and refund shares.

Every function here is pure; the services decide what to write and the transaction enforces it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from qunyun.domain.rules import CheckinRule, ExpiryRule

BALANCE_PARTS = ("available", "pending", "spent", "expired", "cancelled", "written_off", "debt")
NEVER = "9999-12-31T23:59:59+00:00"  # sorts after every real expiry, so never-expiring lots are spent last


def program_day(moment: datetime, tz: str) -> date:
    """The day an event belongs to, in the program's timezone (23:59:59 and 00:00:00 Shanghai differ)."""
    return moment.astimezone(ZoneInfo(tz)).date()


def streak_after(last_checkin: date | None, streak: int, day: date) -> int:
    """The streak after checking in on `day`: +1 after yesterday, reset to 1 after a gap.

    A late check-in for a day before the last one (events may arrive up to 7 days late) does not move
    the streak; it earns only the base points."""
    if last_checkin is None or day > last_checkin + timedelta(days=1):
        return 1
    if day == last_checkin + timedelta(days=1):
        return streak + 1
    return streak


def checkin_points(rule: CheckinRule, streak: int) -> int:
    bonus = min(rule.streak_step * max(streak - 1, 0), rule.streak_max_bonus)
    weekly = rule.weekly_bonus if streak > 0 and streak % 7 == 0 else 0
    return rule.base + bonus + weekly


def purchase_points(amount_fen: int, points_per_yuan: int) -> int:
    """Points per whole yuan, rounded down: 129.00 yuan at 1 point/yuan earns 129, 0.99 yuan earns 0."""
    return (amount_fen // 100) * points_per_yuan


def cap_grant(requested: int, granted_today: int, cap: int | None) -> tuple[int, bool]:
    """Cuts a grant down to what the daily cap still allows; returns (grant, capped)."""
    if cap is None:
        return requested, False
    room = max(cap - granted_today, 0)
    return (requested, False) if requested <= room else (room, True)


def refund_share(order_points: int, order_fen: int, refunded_fen_before: int, refund_fen: int) -> int:
    """Points this refund reverses. Cumulative shares are floor(points × refunded / amount), so the
    reversals of all parts of an order add up exactly to what it earned (a full refund reverses all)."""
    after = refunded_fen_before + refund_fen
    return order_points * after // order_fen - order_points * refunded_fen_before // order_fen


def expires_at(available_at: datetime, rule: ExpiryRule, tz: str) -> str:
    """When a lot that became available at `available_at` expires, computed once in the program timezone.

    The instant returned is the first moment the lot is no longer spendable (reads treat
    `expires_at <= now` as expired)."""
    zone = ZoneInfo(tz)
    local = available_at.astimezone(zone)
    if rule.policy == "never":
        return NEVER
    if rule.policy == "rolling_days":
        # Through the end of the Nth local day after: grants of one day share one lot and one expiry.
        end = datetime.combine(local.date() + timedelta(days=(rule.days or 0) + 1), time(0), zone)
    elif rule.policy == "end_of_month":
        first_next = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
        end = datetime.combine(first_next.date(), time(0), zone)
    else:  # end_of_next_year: points earned in 2026 last through 31 December 2027
        end = datetime.combine(date(local.year + 2, 1, 1), time(0), zone)
    return end.astimezone(ZoneInfo("UTC")).isoformat()


def live_expiries(rule: ExpiryRule, tz: str, now: datetime) -> list[str] | None:
    """The expiries of every lot the rule can have made that is still spendable at `now`, when they are few: the
    one lot of `never`, this month's, this year's and last year's. None for rolling days (a lot a day)."""
    if rule.policy == "rolling_days":
        return None
    if rule.policy != "end_of_next_year":
        return [expires_at(now, rule, tz)]
    local = now.astimezone(ZoneInfo(tz))
    return [expires_at(datetime(local.year - k, 7, 1, tzinfo=ZoneInfo(tz)), rule, tz) for k in (0, 1)]


def is_expired(expires: str | None, now: datetime) -> bool:
    return bool(expires) and expires != NEVER and datetime.fromisoformat(expires) <= now


def reconcile(balance: dict[str, int], earned: int) -> int:
    """earned − (available + pending + spent + expired + cancelled + written_off − debt); 0 when exact."""
    held = sum(balance.get(p, 0) for p in BALANCE_PARTS if p != "debt") - balance.get("debt", 0)
    return earned - held
