"""When EventBridge Scheduler fires a ScheduleV2 event, and the payload its target receives."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from qunyun_ops.local.scheduler import next_fire, scheduler_input
from qunyun_ops.local.template import Schedule

NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(expression: str, timezone: str | None, after: datetime, count: int) -> list[datetime]:
    out = []
    for _ in range(count):
        after = next_fire(expression, timezone, after)
        out.append(after)
    return out


def test_every_five_minutes_fires_on_the_next_multiple_strictly_after():
    # GIVEN a schedule every 5 minutes and a time just past 10:05
    # WHEN the next three fire times are computed
    # THEN they are 10:10, 10:15, 10:20 in UTC, and a fire time itself is not repeated
    assert fires("cron(0/5 * * * ? *)", None, utc(2026, 5, 4, 10, 5, 0), 3) == [
        utc(2026, 5, 4, 10, 10),
        utc(2026, 5, 4, 10, 15),
        utc(2026, 5, 4, 10, 20),
    ]


def test_the_schedule_timezone_moves_the_fire_time():
    # GIVEN the same 02:00 cron in Asia/Shanghai and in UTC
    after = utc(2026, 5, 4, 12, 0)
    # WHEN the next fire time is computed
    # THEN Shanghai's 02:00 is 18:00 UTC the day before, UTC's is 02:00 the next morning
    assert next_fire("cron(0 2 * * ? *)", "Asia/Shanghai", after) == utc(2026, 5, 4, 18, 0)
    assert next_fire("cron(0 2 * * ? *)", None, after) == utc(2026, 5, 5, 2, 0)
    assert next_fire("cron(0 2 * * ? *)", "UTC", after) == utc(2026, 5, 5, 2, 0)


def test_weekdays_with_names_skip_the_weekend():
    # GIVEN 08:00 MON-FRI and Friday 2026-05-08 after its run
    # WHEN the next fire times are computed
    # THEN the weekend is skipped and Monday follows
    assert fires("cron(0 8 ? * MON-FRI *)", None, utc(2026, 5, 8, 9, 0), 2) == [
        utc(2026, 5, 11, 8, 0),
        utc(2026, 5, 12, 8, 0),
    ]


def test_aws_day_of_week_numbers_start_at_sunday():
    # GIVEN day-of-week 2-6 (AWS: 1 = SUN, so MON-FRI) and 1 alone (SUN)
    # WHEN evaluated from Saturday 2026-05-09
    # THEN 2-6 next fires on Monday and 1 on Sunday
    assert next_fire("cron(0 8 ? * 2-6 *)", None, utc(2026, 5, 9)) == utc(2026, 5, 11, 8)
    assert next_fire("cron(0 8 ? * 1 *)", None, utc(2026, 5, 9)) == utc(2026, 5, 10, 8)
    assert next_fire("cron(0 8 ? * 7 *)", None, utc(2026, 5, 10)) == utc(2026, 5, 16, 8)


def test_day_of_week_steps_never_wrap_saturday_into_sunday():
    # GIVEN 2/2 in AWS day-of-week: MON, WED, FRI (2, 4, 6 of 1..7)
    # WHEN evaluated through a week starting Saturday 2026-05-09
    # THEN Sunday is never among them
    days = [d.strftime("%a") for d in fires("cron(0 8 ? * 2/2 *)", None, utc(2026, 5, 9), 4)]
    assert days == ["Mon", "Wed", "Fri", "Mon"]


def test_l_is_the_last_day_of_each_month():
    # GIVEN midnight on the last day of the month
    # WHEN computed from the start of 2028 (a leap year)
    # THEN January 31, February 29, March 31
    assert fires("cron(0 0 L * ? *)", None, utc(2028, 1, 1), 3) == [
        utc(2028, 1, 31),
        utc(2028, 2, 29),
        utc(2028, 3, 31),
    ]


def test_last_friday_of_the_month():
    # GIVEN 6L: the last Friday (AWS 6 = FRI)
    # WHEN computed in May 2026
    # THEN May 29
    assert next_fire("cron(0 18 ? * 6L *)", None, utc(2026, 5, 1)) == utc(2026, 5, 29, 18)


def test_hash_picks_the_nth_weekday_of_the_month():
    # GIVEN 6#3: the third Friday
    # WHEN computed from May and then June 2026
    # THEN May 15 and June 19
    assert fires("cron(0 10 ? * 6#3 *)", None, utc(2026, 5, 1), 2) == [utc(2026, 5, 15, 10), utc(2026, 6, 19, 10)]


def test_w_is_the_nearest_weekday_inside_the_month():
    # GIVEN 15W and 1W
    # WHEN the 15th is a Saturday (Aug 2026) and the 1st is a Saturday (Aug 2026)
    # THEN 15W runs Friday the 14th and 1W Monday the 3rd (never in July)
    assert next_fire("cron(0 9 15W * ? *)", None, utc(2026, 8, 1)) == utc(2026, 8, 14, 9)
    assert next_fire("cron(0 9 1W * ? *)", None, utc(2026, 7, 31)) == utc(2026, 8, 3, 9)


def test_the_year_field_limits_and_ends_a_schedule():
    # GIVEN a schedule for 2030-2031 only
    # WHEN computed from 2026, then from its last run
    # THEN it waits for 2030, and after December 2031 it never fires again
    assert next_fire("cron(0 10 1 * ? 2030-2031)", None, utc(2026, 5, 1)) == utc(2030, 1, 1, 10)
    assert next_fire("cron(0 10 1 * ? 2030-2031)", None, utc(2031, 12, 1, 10)) is None
    assert next_fire("cron(0 10 1 1 ? 2026,2028)", None, utc(2026, 5, 1)) == utc(2028, 1, 1, 10)


def test_spring_forward_skips_the_missing_time():
    # GIVEN 02:30 in New York, where 2026-03-08 jumps from 02:00 to 03:00
    # WHEN computed from the evening before
    # THEN the nonexistent 02:30 is skipped (EventBridge Scheduler does not run it); next is 03-09 02:30 EDT
    fire = next_fire("cron(30 2 * * ? *)", "America/New_York", utc(2026, 3, 7, 23))
    assert fire == utc(2026, 3, 9, 6, 30)
    assert fire.astimezone(NY).strftime("%H:%M %Z") == "02:30 EDT"


def test_fall_back_runs_a_repeated_time_once():
    # GIVEN 01:30 in New York, where 2026-11-01 01:00-02:00 happens twice
    # WHEN computed before and just after the first 01:30
    # THEN it fires at the first 01:30 (EDT) and not again at the second (EST)
    first = next_fire("cron(30 1 * * ? *)", "America/New_York", utc(2026, 11, 1, 0))
    assert first == utc(2026, 11, 1, 5, 30)
    assert next_fire("cron(30 1 * * ? *)", "America/New_York", first) == utc(2026, 11, 2, 6, 30)


def test_a_daily_local_time_keeps_its_wall_clock_across_dst():
    # GIVEN 09:00 New York around the March change
    # WHEN consecutive runs are computed
    # THEN each is 09:00 local: 14:00 UTC before, 13:00 UTC after
    runs = fires("cron(0 9 * * ? *)", "America/New_York", utc(2026, 3, 7, 0), 2)
    assert runs == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13)]


def test_rate_and_at_expressions():
    # GIVEN rate() anchored at its start, and a one-time at() in Shanghai
    start = utc(2026, 5, 4, 10, 0, 7)
    # WHEN computed
    # THEN rate fires every period after its start, and at() fires once, then never
    assert next_fire("rate(5 minutes)", None, start, anchor=start) == utc(2026, 5, 4, 10, 5, 7)
    assert next_fire("rate(1 hour)", None, utc(2026, 5, 4, 10, 30), anchor=start) == utc(2026, 5, 4, 11, 0, 7)
    assert next_fire("rate(2 days)", None, utc(2026, 5, 4, 10, 30)) == utc(2026, 5, 5)
    at = "at(2026-06-01T09:00:00)"
    assert next_fire(at, "Asia/Shanghai", start) == utc(2026, 6, 1, 1)
    assert next_fire(at, "Asia/Shanghai", utc(2026, 6, 1, 1)) is None


@pytest.mark.parametrize(
    "expression",
    ["cron(0 8 * * MON *)", "cron(0 8 * *)", "cron(0 25 * * ? *)", "rate(0 minutes)", "rate(5 weeks)", "every day"],
)
def test_invalid_expressions_are_refused_like_aws(expression):
    # GIVEN an expression AWS would reject (both day fields set, wrong field count, out of range, bad unit)
    # WHEN evaluated
    # THEN a ValueError says so
    with pytest.raises(ValueError):
        next_fire(expression, None, utc(2026, 5, 4))


def test_an_unknown_timezone_is_refused():
    # GIVEN a ScheduleExpressionTimezone that is not an IANA name
    # WHEN evaluated
    # THEN a ValueError names it
    with pytest.raises(ValueError, match="Mars/Olympus"):
        next_fire("cron(0 2 * * ? *)", "Mars/Olympus", utc(2026, 5, 4))


def test_input_gets_its_context_attributes_substituted():
    # GIVEN a schedule Input using every context attribute
    schedule = Schedule(
        function="BriefDispatch",
        name="Morning",
        expression="cron(0 2 * * ? *)",
        timezone="Asia/Shanghai",
        input='{"at": "<aws.scheduler.scheduled-time>", "attempt": <aws.scheduler.attempt-number>, '
        '"id": "<aws.scheduler.execution-id>", "arn": "<aws.scheduler.schedule-arn>", "slot": "02:00"}',
        retry_attempts=None,
        dead_letter=False,
    )
    # WHEN rendered for 02:00 Shanghai, second attempt
    payload = scheduler_input(schedule, datetime(2026, 5, 5, 2, 0, 0, 500, tzinfo=ZoneInfo("Asia/Shanghai")), 2)
    # THEN the time is UTC to the second with Z, the attempt is a number, and the rest is untouched
    assert payload["at"] == "2026-05-04T18:00:00Z"
    assert payload["attempt"] == 2
    assert payload["slot"] == "02:00"
    assert len(payload["id"]) == 16
    assert payload["arn"].startswith("arn:aws:scheduler:")
    assert payload["arn"].endswith(":schedule/default/BriefDispatch-Morning")


def test_a_schedule_without_input_delivers_an_empty_object():
    # GIVEN a schedule with no Input
    schedule = Schedule("Tick", "Every", "rate(1 minute)", None, None, None, False)
    # WHEN rendered
    # THEN the target gets {}
    assert scheduler_input(schedule, utc(2026, 5, 4)) == {}
