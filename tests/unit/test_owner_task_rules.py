"""When an owner's unconfirmed mass-send task goes stale, and when the owner is reminded (domain/owner_tasks.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.owner_tasks import TaskLog, kept_reminders, reminder_due, stale_at
from qunyun.domain.quota import Push
from qunyun.domain.tenants import TenantPolicy

DAY = date(2026, 11, 27)
HOUR = timedelta(hours=1)


def record(push: Push, day: date = DAY) -> Delivery:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    return Delivery.of("t1", "g1", day, push, "wecom_customer_group", Status.awaiting_owner, now)


@pytest.mark.parametrize(("edition", "zone", "since", "stale"), [
    # morning at 12:00 and evening at 23:30 in the group's own timezone, on its local date
    ("morning", "Asia/Shanghai", datetime(2026, 11, 27, 0, 0, tzinfo=UTC), datetime(2026, 11, 27, 4, 0, tzinfo=UTC)),
    ("evening", "Asia/Shanghai", datetime(2026, 11, 27, 12, 30, tzinfo=UTC),
     datetime(2026, 11, 27, 15, 30, tzinfo=UTC)),
    ("morning", "Asia/Kathmandu", datetime(2026, 11, 27, 2, 15, tzinfo=UTC),
     datetime(2026, 11, 27, 6, 15, tzinfo=UTC)),
    ("evening", "America/New_York", datetime(2026, 11, 28, 1, 30, tzinfo=UTC),
     datetime(2026, 11, 28, 4, 30, tzinfo=UTC)),
])
def test_a_brief_goes_stale_at_its_editions_local_time(edition, zone, since, stale):
    assert stale_at(record(Push.brief(edition)), zone, since, TenantPolicy()) == stale


def test_the_tenant_sets_the_stale_times():
    policy = TenantPolicy(morning_stale_at="10:30", evening_stale_at="22:00")
    since = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    assert stale_at(record(Push.brief("morning")), "Asia/Shanghai", since, policy) == since + 2.5 * HOUR
    assert stale_at(record(Push.brief("evening")), "Asia/Shanghai", since, policy) == since + 14 * HOUR


def test_other_pushes_go_stale_a_configurable_time_after_their_task():
    since = datetime(2026, 11, 27, 10, 7, tzinfo=UTC)
    assert stale_at(record(Push.farewell()), "Asia/Shanghai", since, TenantPolicy()) == since + 24 * HOUR
    assert stale_at(record(Push.reminder("live-1", "1h")), "UTC", since,
                    TenantPolicy(owner_task_stale_hours=6)) == since + 6 * HOUR


def test_a_brief_handed_over_after_its_stale_time_gets_the_default_window():
    # a group whose morning slot is 13:00: its task must not be cancelled the moment it exists
    since = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    assert stale_at(record(Push.brief("morning")), "Asia/Shanghai", since, TenantPolicy()) == since + 24 * HOUR


def test_stale_times_must_be_hh_mm():
    with pytest.raises(ValueError):
        TenantPolicy(morning_stale_at="12")


def test_reminders_come_every_interval_and_never_more_than_three_in_24_hours():
    since, every = datetime(2026, 11, 27, 0, 0, tzinfo=UTC), HOUR
    assert not reminder_due(TaskLog(), since, since + 59 * timedelta(minutes=1), every)
    assert reminder_due(TaskLog(), since, since + HOUR, every)
    three = TaskLog(reminders=(since + HOUR, since + 2 * HOUR, since + 3 * HOUR))
    assert not reminder_due(three, since, since + 4 * HOUR, every)
    assert not reminder_due(three, since, since + 25 * HOUR - timedelta(seconds=1), every)
    assert reminder_due(three, since, since + 25 * HOUR, every)  # 24 h after the first, as WeCom counts


def test_a_run_never_reminds_twice_for_the_same_time_or_after_a_later_run():
    since, at = datetime(2026, 11, 27, 0, 0, tzinfo=UTC), datetime(2026, 11, 27, 1, 15, tzinfo=UTC)
    assert not reminder_due(TaskLog(reminders=(at,)), since, at, timedelta(minutes=15))
    assert not reminder_due(TaskLog(reminders=(at + HOUR,)), since, at, timedelta(minutes=15))


def test_only_the_last_24_hours_of_reminders_are_kept():
    at = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    kept = kept_reminders([at - 25 * HOUR, at, at - HOUR], at)
    assert kept == (at - HOUR, at)
