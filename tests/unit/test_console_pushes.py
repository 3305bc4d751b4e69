"""The group page's pushes: its latest 50 records up to its today, looked for in the last 30 days first."""

from __future__ import annotations

from datetime import date, timedelta

from qunyun.services.console_views import latest_pushes

TODAY = date(2026, 12, 5)


class Days:
    """A group's records by date (two a day from `first`), read as DeliveryRepository.of_group reads them: newest
    date first, from `until` back to `since` (400 days back by default), at most `limit`. Counts the reads."""

    def __init__(self, first: date, last: date) -> None:
        self.dates = [last - timedelta(days=n) for n in range((last - first).days + 1)]
        self.reads: list[tuple[date | None, date | None]] = []

    def of_group(self, tenant_id, group_id, limit=100, *, since=None, until=None):
        self.reads.append((since, until))
        since = since or TODAY - timedelta(days=400)
        found = [(d, edition) for d in self.dates if since <= d <= (until or TODAY + timedelta(days=366))
                 for edition in ("evening", "morning")]
        return iter(found[:limit])


def test_a_group_briefed_twice_a_day_fills_the_list_from_its_last_30_days_in_one_read():
    days = Days(TODAY - timedelta(days=90), TODAY + timedelta(days=40))
    pushes = latest_pushes(days, "t", "g", TODAY)
    assert len(pushes) == 50 and pushes[0] == (TODAY, "evening") and pushes[-1][0] == TODAY - timedelta(days=24)
    assert days.reads == [(TODAY - timedelta(days=29), TODAY)]


def test_a_quiet_group_s_older_pushes_follow_its_recent_ones():
    days = Days(TODAY - timedelta(days=200), TODAY - timedelta(days=20))  # nothing in its last 20 days
    pushes = latest_pushes(days, "t", "g", TODAY)
    assert [d for d, _ in pushes] == [TODAY - timedelta(days=20 + n // 2) for n in range(50)]
    assert days.reads == [(TODAY - timedelta(days=29), TODAY), (None, TODAY - timedelta(days=30))]
