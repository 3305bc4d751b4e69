"""The quota planner: the daily cap shared by priority, WeCom's customer-group quota, deciding one push at a time."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qunyun.domain.quota import Budget, Push, Spent, decide, local_day, period_key, quota_limit

DAY = date(2026, 11, 25)
MORNING, EVENING, FAREWELL = Push.brief("morning"), Push.brief("evening"), Push.farewell()
ROBOT = Budget.for_group("wecom_robot", 2, "month")


def test_the_daily_cap_goes_by_priority():
    # GIVEN a robot group with the default cap of 2 and a farewell planned for 18:00
    # WHEN the morning brief is decided at 08:00, knowing the farewell and the evening brief come later
    morning = decide(MORNING, DAY, ROBOT, Spent(), later=[FAREWELL, EVENING])
    # THEN it takes a slot: the farewell keeps the other one, the evening brief keeps none
    assert morning.take and morning.reason is None
    # WHEN the farewell goes at 18:00 and the evening brief is decided at 20:30
    farewell = decide(FAREWELL, DAY, ROBOT, Spent(1, 0, frozenset({MORNING.push_id})), later=[EVENING])
    evening = decide(EVENING, DAY, ROBOT, Spent(2, 0, frozenset({MORNING.push_id, FAREWELL.push_id})))
    # THEN the farewell is sent and the evening brief is skipped for the daily cap
    assert farewell.take and (evening.take, evening.reason) == (False, "daily_cap")


def test_a_later_farewell_keeps_its_slot_from_both_briefs():
    # GIVEN a cap of 1 and a farewell planned for 18:00
    budget = Budget.for_group("outbox", 1, "month")
    # WHEN the morning brief is decided at 08:00
    # THEN it is skipped: the one slot belongs to the farewell
    assert decide(MORNING, DAY, budget, Spent(), later=[FAREWELL]).reason == "daily_cap"
    # AND a later push that does not outrank it keeps nothing
    assert decide(MORNING, DAY, budget, Spent(), later=[EVENING]).take


def test_a_surprise_farewell_outranks_a_known_reminder():
    # GIVEN the morning brief took a slot at 08:00 while a 12:00 reminder was known (its slot kept)
    reminder = Push.reminder("live-1129", "1h")
    assert decide(MORNING, DAY, ROBOT, Spent(), later=[reminder]).take
    # WHEN a farewell nobody knew of at 08:00 is decided at 11:00
    farewell = decide(FAREWELL, DAY, ROBOT, Spent(1, 0, frozenset({MORNING.push_id})), later=[reminder])
    # THEN the farewell outranks the reminder and takes the last slot; the reminder finds the day full
    assert farewell.take
    spent = Spent(2, 0, frozenset({MORNING.push_id, FAREWELL.push_id}))
    assert decide(reminder, DAY, ROBOT, spent).reason == "daily_cap"


def test_spending_again_is_a_no_op():
    # GIVEN the morning brief already spent its slot and the cap is full
    spent = Spent(2, 2, frozenset({MORNING.push_id, FAREWELL.push_id}))
    # WHEN it is decided again (a retry, a second dispatcher run)
    again = decide(MORNING, DAY, ROBOT, spent)
    # THEN it still has its slot, and says it had it already
    assert again.take and again.already


def test_a_later_push_that_already_spent_keeps_no_second_slot():
    # GIVEN the farewell went out early and is still passed among the later pushes
    spent = Spent(1, 0, frozenset({FAREWELL.push_id}))
    # THEN the morning brief still gets the second slot
    assert decide(MORNING, DAY, ROBOT, spent, later=[FAREWELL]).take


def test_customer_groups_also_spend_wecom_quota():
    # GIVEN a customer group whose month's quota (30 in November) is used up, with its daily cap free
    budget = Budget.for_group("wecom_customer_group", 2, "month")
    # WHEN a brief is decided
    decision = decide(MORNING, DAY, budget, Spent(0, 30))
    # THEN it is skipped for the quota; one send earlier it fits, unless a later farewell needs it
    assert (decision.take, decision.reason) == (False, "quota")
    assert decide(MORNING, DAY, budget, Spent(0, 29)).take
    assert decide(MORNING, DAY, budget, Spent(0, 29), later=[FAREWELL]).reason == "quota"
    # AND other channels know no quota
    assert decide(MORNING, DAY, ROBOT, Spent(0, 10_000)).take


def test_one_a_day_quota_lets_only_the_best_push_through():
    # GIVEN a customer group of a tenant that switched WeCom to 1 send a day
    budget = Budget.for_group("wecom_customer_group", 2, "day")
    # WHEN the morning brief is decided knowing a reminder comes later
    reminder = Push.reminder("live-1129", "1h")
    # THEN the reminder keeps the day's only send
    assert decide(MORNING, DAY, budget, Spent(), later=[reminder]).reason == "quota"
    assert decide(reminder, DAY, budget, Spent()).take


@pytest.mark.parametrize("day, days", [(date(2026, 2, 10), 28), (date(2028, 2, 10), 29), (date(2026, 11, 1), 30),
                                       (date(2026, 12, 31), 31)])
def test_a_month_allows_as_many_sends_as_it_has_days(day, days):
    # GIVEN a customer group on the monthly quota
    budget = Budget.for_group("wecom_customer_group", 2, "month")
    # THEN the month's quota is its number of days: one below fits, at it does not
    assert quota_limit("month", day) == days
    assert decide(MORNING, day, budget, Spent(0, days - 1)).take
    assert decide(MORNING, day, budget, Spent(0, days)).reason == "quota"


def test_the_week_turns_at_monday_midnight_in_the_groups_timezone():
    # GIVEN the instant that is Sunday 16:30 in UTC and Monday 00:30 in Shanghai
    instant = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)
    shanghai, utc = local_day(instant, "Asia/Shanghai"), local_day(instant, "UTC")
    # THEN a Shanghai group is in a new week and month-day, a UTC group still in the old week
    assert (shanghai, utc) == (date(2026, 11, 30), date(2026, 11, 29))
    assert period_key("week", shanghai) == "W2026-W49" and period_key("week", utc) == "W2026-W48"
    # AND the ISO week of the year's turn belongs to the year that holds its Thursday
    assert period_key("week", date(2026, 12, 31)) == period_key("week", date(2027, 1, 3)) == "W2026-W53"
    assert period_key("month", shanghai) == "M2026-11" and period_key("day", shanghai) == "D2026-11-30"


def test_pushes_name_their_priority():
    assert [p.rank for p in (FAREWELL, Push.reminder("e", "1h"), MORNING, EVENING)] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        Push("brief", "brief.noon", "noon")
    with pytest.raises(ValueError):
        Push("reminder", "a#b")


# ---- properties: a day of pushes decided one at a time --------------------------------------------------------

KINDS = [FAREWELL, MORNING, EVENING] + [Push.reminder(f"ev{i}", "1h") for i in range(4)]


@dataclass
class Planned:
    push: Push
    known_at: int  # minute of the day the caller learns of it
    decide_at: int  # minute it is decided; never before it is known


@st.composite
def days_of_pushes(draw) -> list[Planned]:
    pushes = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=8, unique_by=lambda p: p.push_id))
    planned = []
    for p in pushes:
        known = draw(st.integers(0, 1439))
        planned.append(Planned(p, known, draw(st.integers(known, 1439))))
    return sorted(planned, key=lambda x: x.decide_at)


def run_day(day: date, budget: Budget, planned: list[Planned], period_spent: int = 0) -> dict[str, tuple]:
    """Decides each push at its time as a caller would: `later` is what is known and not yet decided."""
    spent, taken, outcome = 0, set(), {}
    for i, now in enumerate(planned):
        later = [p.push for p in planned[i + 1:] if p.known_at <= now.decide_at]
        d = decide(now.push, day, budget, Spent(spent, period_spent + spent, frozenset(taken)), later)
        if d.take and not d.already:
            spent, taken = spent + 1, taken | {now.push.push_id}
        outcome[now.push.push_id] = (d, now, later)
    return outcome


budgets = st.builds(Budget.for_group, st.sampled_from(["wecom_customer_group", "wecom_robot"]),
                    st.integers(1, 4), st.sampled_from(["month", "week", "day"]))


@settings(max_examples=300)
@given(days_of_pushes(), budgets, st.integers(0, 31), st.dates(date(2024, 1, 1), date(2030, 12, 31)))
def test_never_more_than_the_cap_or_the_quota(planned, budget, period_spent, day):
    if budget.quota_period:
        period_spent = min(period_spent, quota_limit(budget.quota_period, day))
    outcome = run_day(day, budget, planned, period_spent)
    taken = [d for d, _, _ in outcome.values() if d.take]
    assert len(taken) <= budget.daily_cap
    if budget.quota_period:
        assert period_spent + len(taken) <= quota_limit(budget.quota_period, day)
    for d, _, _ in outcome.values():
        assert d.take or d.reason in ("daily_cap", "quota")


@settings(max_examples=300)
@given(days_of_pushes(), budgets, st.integers(0, 31))
def test_a_known_higher_push_is_never_skipped_for_a_lower_one(planned, budget, period_spent):
    # GIVEN any day: pushes learnt of at any time, each decided at its own time
    if budget.quota_period:
        period_spent = min(period_spent, quota_limit(budget.quota_period, DAY))
    outcome = run_day(DAY, budget, planned, period_spent)
    for high, _, _ in outcome.values():
        if high.take:
            continue
        for low, low_at, low_later in outcome.values():
            if low.take and high.push.outranks(low.push) and high.push in low_later:
                # THEN a lower push that took a slot while the higher one was known only displaced it when a
                # push at least as high, unknown at that time, came after and took a slot
                assert any(d.take and d.push.rank <= high.push.rank and d.push != high.push
                           and at.known_at > low_at.decide_at for d, at, _ in outcome.values())


@settings(max_examples=300)
@given(days_of_pushes(), st.integers(1, 4))
def test_known_in_advance_the_best_pushes_go_out(planned, cap):
    # GIVEN every push of the day known before the first is decided
    for p in planned:
        p.known_at = 0
    outcome = run_day(DAY, Budget(daily_cap=cap), planned)
    # THEN those sent are the `cap` best by priority (the first decided among equals)
    order = sorted(planned, key=lambda p: (p.push.rank, planned.index(p)))
    assert {p for p, (d, _, _) in outcome.items() if d.take} == {p.push.push_id for p in order[:cap]}


@given(st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)))
def test_a_quota_period_is_the_local_calendar_one(instant):
    # GIVEN any instant, seen from Shanghai (UTC+8, no daylight saving)
    day = local_day(instant, "Asia/Shanghai")
    assert day == (instant + timedelta(hours=8)).date()
    # THEN its week runs Monday to Sunday of Shanghai dates, and its month has as many sends as days
    monday = day - timedelta(days=day.weekday())
    assert {period_key("week", monday + timedelta(days=i)) for i in range(7)} == {period_key("week", day)}
    assert period_key("week", monday - timedelta(days=1)) != period_key("week", day)
    assert quota_limit("month", day) == calendar.monthrange(day.year, day.month)[1]
