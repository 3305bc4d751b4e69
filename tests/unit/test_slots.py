"""Brief slots: a group's HH:MM on the dispatcher's 5-minute grid, in its own timezone, and which grid instants
a run looks at after an outage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from qunyun.domain.slots import LOOKBACK, STEP, floor_instant, instants_to_dispatch, local_slot, slot_key, slot_of


@pytest.mark.parametrize(("hhmm", "slot"), [("08:00", "08:00"), ("07:58", "07:55"), ("07:55", "07:55"),
                                            ("20:34", "20:30"), ("0:04", "00:00"), ("23:59", "23:55")])
def test_a_time_falls_in_the_5_minute_slot_it_starts_in(hhmm, slot):
    assert slot_of(hhmm) == slot


def test_the_index_key_names_edition_slot_and_timezone():
    assert slot_key("morning", "07:58", "Asia/Shanghai") == "morning#07:55#Asia/Shanghai"


def test_floor_instant_needs_an_aware_time_and_lands_on_the_grid():
    # GIVEN a time in +08:00 with seconds
    instant = datetime(2026, 11, 25, 8, 7, 42, 5, tzinfo=timezone(timedelta(hours=8)))
    # THEN its grid instant is UTC, at the 5-minute mark before it
    assert floor_instant(instant) == datetime(2026, 11, 25, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError):
        floor_instant(datetime(2026, 11, 25, 8, 0))


@pytest.mark.parametrize(("zone", "hhmm", "day"), [
    ("Asia/Shanghai", "08:00", date(2026, 11, 25)),
    ("Asia/Kolkata", "05:30", date(2026, 11, 25)),  # +05:30 all year
    ("Asia/Kathmandu", "05:45", date(2026, 11, 25)),  # +05:45: still a whole number of 5 minutes
    ("America/Los_Angeles", "16:00", date(2026, 11, 24)),  # the local date is the day before UTC's
    ("UTC", "00:00", date(2026, 11, 25)),
])
def test_one_grid_instant_is_one_local_slot_in_every_timezone(zone, hhmm, day):
    # GIVEN the grid instant 2026-11-25 00:00 UTC
    slot = local_slot(datetime(2026, 11, 25, 0, 0, tzinfo=UTC), zone)
    # THEN each timezone sees it at its own HH:MM on its own date, a key the index holds
    assert (slot.hhmm, slot.day) == (hhmm, day)
    assert slot.key("evening") == f"evening#{hhmm}#{zone}"


def test_kolkata_mornings_are_due_at_the_half_hour_utc():
    # GIVEN a group in Asia/Kolkata with its morning at 08:00 local
    key = slot_key("morning", "08:00", "Asia/Kolkata")
    # THEN it is due at 02:30 UTC and at no other grid instant of the day
    start = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    due = [start + i * STEP for i in range(288) if local_slot(start + i * STEP, "Asia/Kolkata").key("morning") == key]
    assert due == [datetime(2026, 11, 25, 2, 30, tzinfo=UTC)]


def test_daylight_saving_moves_the_utc_instant_not_the_local_slot():
    # GIVEN New York's 08:00 before and after the November change (EDT -4, then EST -5)
    before = local_slot(datetime(2026, 10, 30, 12, 0, tzinfo=UTC), "America/New_York")
    after = local_slot(datetime(2026, 11, 2, 13, 0, tzinfo=UTC), "America/New_York")
    # THEN both are the 08:00 slot
    assert before.hhmm == after.hhmm == "08:00"


NOW = datetime(2026, 11, 25, 0, 7, tzinfo=UTC)
GRID = datetime(2026, 11, 25, 0, 5, tzinfo=UTC)


def test_the_first_run_and_a_repeated_run_look_at_their_own_instant_only():
    assert instants_to_dispatch(NOW, None) == [GRID]
    # a second run for the same time, and a late run for an instant already finished
    assert instants_to_dispatch(NOW, GRID) == [GRID]
    assert instants_to_dispatch(NOW, GRID + timedelta(hours=1)) == [GRID]


def test_a_run_after_an_outage_catches_up_every_instant_since_the_last_finished_one():
    # GIVEN the last finished run at 23:50 the day before
    done = GRID - 3 * STEP
    # THEN the run at 00:07 looks at 23:55, 00:00 and 00:05, oldest first
    assert instants_to_dispatch(NOW, done) == [done + STEP, done + 2 * STEP, GRID]


def test_catching_up_goes_back_a_day_at_most():
    # GIVEN an outage of three days
    instants = instants_to_dispatch(NOW, GRID - timedelta(days=3))
    # THEN the run looks back one day at most, ending at its own instant
    assert instants[0] == GRID - LOOKBACK and instants[-1] == GRID
    assert len(instants) == LOOKBACK // STEP + 1
    assert all(b - a == STEP for a, b in zip(instants, instants[1:], strict=False))
