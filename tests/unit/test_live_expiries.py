"""Which lots an expiry rule can still have open (domain/points.py `live_expiries`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qunyun.domain.points import NEVER, expires_at, is_expired, live_expiries
from qunyun.domain.rules import ExpiryRule

TZ = "Asia/Shanghai"
NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)


def test_the_default_rule_names_this_years_and_last_years_lots():
    rule = ExpiryRule()
    named = live_expiries(rule, TZ, NOW)
    assert named == ["2027-12-31T16:00:00+00:00", "2026-12-31T16:00:00+00:00"]
    # every day of this year and last year makes one of them; the year before made a lot already expired
    days = [NOW - timedelta(days=d) for d in range(0, 530)]
    assert {expires_at(d, rule, TZ) for d in days} == set(named)
    assert is_expired(expires_at(NOW - timedelta(days=600), rule, TZ), NOW)


def test_the_first_hours_of_a_local_year_count_as_that_year():
    new_year = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January 2027 in Shanghai
    assert live_expiries(ExpiryRule(), TZ, new_year)[0] == expires_at(new_year, ExpiryRule(), TZ)


def test_end_of_month_names_this_months_lot_and_never_its_one():
    assert live_expiries(ExpiryRule(policy="end_of_month"), TZ, NOW) == ["2026-06-30T16:00:00+00:00"]
    assert live_expiries(ExpiryRule(policy="never"), TZ, NOW) == [NEVER]


def test_rolling_days_name_none():
    assert live_expiries(ExpiryRule(policy="rolling_days", days=60), TZ, NOW) is None
