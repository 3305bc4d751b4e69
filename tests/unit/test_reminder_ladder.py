"""The reminder ladder: rungs in the group's local time, quiet hours, rungs already past, moved events."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from qunyun.domain.reminders import DEFAULT_LADDER, DEFAULT_QUIET_HOURS, QuietHours, Rung, parse_ladder, plan

SH = ZoneInfo("Asia/Shanghai")
LADDER = parse_ladder(DEFAULT_LADDER)
QUIET = QuietHours.parse(DEFAULT_QUIET_HOURS)


def at(day: int, hh: int, mm: int = 0, zone=SH) -> datetime:
    return datetime(2026, 12, day, hh, mm, tzinfo=zone)


def view(rungs, zone=SH) -> dict:
    return {r.lead: (r.due.astimezone(zone).strftime("%d %H:%M") if r.due else r.skip) for r in rungs}


def test_default_ladder_for_an_evening_event():
    # GIVEN an event on the 5th at 20:00 Shanghai time, added on the 1st
    rungs = plan(at(5, 20), "Asia/Shanghai", LADDER, QUIET, planned_at=at(1, 9))
    # THEN the evening before at 20:00, 12 hours before (08:00) and 1 hour before
    assert view(rungs) == {"eve": "04 20:00", "12h": "05 08:00", "1h": "05 19:00"}


def test_a_rung_in_quiet_hours_moves_to_their_end():
    # GIVEN an event at 10:00: 12 hours before is 22:00 the evening before, inside quiet hours
    rungs = plan(at(5, 10), "Asia/Shanghai", LADDER, QUIET, planned_at=at(1, 9))
    # THEN it is sent at 08:00 instead
    assert view(rungs) == {"eve": "04 20:00", "12h": "05 08:00", "1h": "05 09:00"}
    assert [r.moved for r in rungs] == [False, True, False]


def test_a_rung_whose_quiet_hours_end_after_the_start_is_skipped():
    # GIVEN an event at 07:30: 12 hours before is 19:30 (fine), 1 hour before is 06:30 (quiet until 08:00)
    rungs = plan(at(5, 7, 30), "Asia/Shanghai", LADDER, QUIET, planned_at=at(1, 9))
    assert view(rungs) == {"eve": "04 20:00", "12h": "04 19:30", "1h": "quiet_hours"}


def test_an_event_moved_after_the_evening_rung_was_sent_keeps_only_the_later_rungs():
    # GIVEN an event tomorrow at 10:00, whose evening rung went out at 20:00, moved to 15:00 at 21:00
    rungs = plan(at(5, 15), "Asia/Shanghai", LADDER, QUIET, planned_at=at(4, 21))
    # THEN the evening rung is past (never sent again), 03:00 moves to 08:00, and 1 hour before is 14:00
    assert view(rungs) == {"eve": "passed", "12h": "05 08:00", "1h": "05 14:00"}


def test_an_event_added_30_minutes_before_it_starts_sends_nothing_late():
    rungs = plan(at(5, 20), "Asia/Shanghai", LADDER, QUIET, planned_at=at(5, 19, 30))
    assert view(rungs) == {"eve": "passed", "12h": "passed", "1h": "passed"}


def test_two_rungs_landing_at_the_same_time_are_one_push():
    # GIVEN an event at 09:00 and rungs 2 hours and 1 hour before: 07:00 is quiet and moves to 08:00, where
    # the 1-hour rung lands too
    ladder = parse_ladder(["2h", "1h"])
    rungs = plan(at(5, 9), "Asia/Shanghai", ladder, QUIET, planned_at=at(1, 9))
    assert view(rungs) == {"2h": "merged", "1h": "05 08:00"}


def test_each_group_gets_the_ladder_in_its_own_timezone():
    # GIVEN one event at 12:00 UTC on the 5th: 20:00 in Shanghai, 07:00 in New York
    starts = datetime(2026, 12, 5, 12, 0, tzinfo=ZoneInfo("UTC"))
    ny = ZoneInfo("America/New_York")
    rungs = plan(starts, "America/New_York", LADDER, QUIET, planned_at=at(1, 9))
    # THEN New York's evening rung is on its 4th at 20:00, 12 hours before is its 4th 19:00, 1 hour before
    # (06:00 local) is in quiet hours whose end is after the start
    assert view(rungs, ny) == {"eve": "04 20:00", "12h": "04 19:00", "1h": "quiet_hours"}


def test_quiet_hours_within_one_day_and_across_a_dst_change():
    quiet = QuietHours.parse("13:00-14:00")
    assert quiet.contains(datetime(2026, 1, 1, 13, 30).time()) and not quiet.contains(datetime(2026, 1, 1, 14).time())
    # GIVEN New York, where clocks go forward at 02:00 on 8 March 2026, and quiet hours until 08:00
    ny = ZoneInfo("America/New_York")
    starts = datetime(2026, 3, 8, 9, 0, tzinfo=ny)
    rungs = plan(starts, "America/New_York", parse_ladder(["6h"]), QUIET, planned_at=starts - timedelta(days=2))
    # THEN 6 hours before (02:00 EST = 03:00 EDT) moves to 08:00 EDT
    assert rungs[0].due.astimezone(ny).strftime("%H:%M %Z") == "08:00 EDT"


@pytest.mark.parametrize("text", ["", "eve", "eve@25:00", "0h", "15d", "20000m", "12 h", "1h;2h", None, 12])
def test_bad_rungs_are_named(text):
    with pytest.raises(ValueError, match="rung"):
        Rung.parse(text)


@pytest.mark.parametrize("rungs, words", [([], "1 to 6"), (["1h", "1h"], "once"), (["1h"] * 7, "1 to 6")])
def test_bad_ladders_are_named(rungs, words):
    with pytest.raises(ValueError, match=words):
        parse_ladder(rungs)


@pytest.mark.parametrize("text", ["22:00", "22:00-22:00", "24:00-08:00", "22-8", None])
def test_bad_quiet_hours_are_named(text):
    with pytest.raises(ValueError, match="quiet hours"):
        QuietHours.parse(text)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="aware"):
        plan(datetime(2026, 12, 5, 20), "Asia/Shanghai", LADDER, QUIET, planned_at=at(1, 9))
