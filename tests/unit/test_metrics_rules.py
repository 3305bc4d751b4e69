"""The metrics' pure rules (domain/metrics.py, domain/metrics_day.py): scopes, ranges, membership at an instant,
shares of an owner's WeCom figures, and sums of days.

GIVEN hand-written inputs WHEN a rule is applied THEN it answers what docs/metrics.md defines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.metrics import DayFigures, Scope, default_range, leave_rate, total, window_view
from qunyun.domain.metrics_day import (
    Earning,
    GroupSources,
    credited_days,
    group_day,
    member_at,
    roster_figures,
    shared_statistic,
    split,
)
from qunyun.domain.roster import RosterEntry

T0 = datetime(2026, 11, 25, tzinfo=UTC)


@pytest.mark.parametrize("text, scope", [
    ("tenant", Scope("tenant")), (None, Scope("tenant")), ("group:g1", Scope("group", "g1")),
    ("store:南京路店", Scope("store", "南京路店")), ("rep:r:1", Scope("rep", "r:1")),
    ("kind:flash", Scope("kind", "flash"))])
def test_scopes_parse(text, scope):
    assert Scope.parse(text) == scope


@pytest.mark.parametrize("text", ["bogus", "group:", "tenant:t2", "store:a#b", "rep:" + "x" * 201, "kind:\n"])
def test_bad_scopes_are_a_400_naming_scope(text):
    with pytest.raises(InvalidRequest) as err:
        Scope.parse(text)
    assert err.value.details["field"] == "scope"


def test_ranges_default_to_the_30_days_up_to_yesterday_and_stop_at_400():
    today = date(2026, 12, 4)
    assert default_range(None, None, today) == (date(2026, 11, 4), date(2026, 12, 3))
    assert default_range(date(2026, 11, 30), None, today) == (date(2026, 11, 30), date(2026, 12, 3))
    assert default_range(date(2025, 11, 1), date(2026, 12, 4), today)[0] == date(2025, 11, 1)  # 399 days
    with pytest.raises(InvalidRequest):
        default_range(date(2025, 10, 30), date(2026, 12, 4), today)
    with pytest.raises(InvalidRequest):
        default_range(date(2026, 12, 2), date(2026, 12, 1), today)


def entry(status, joined=None, left=None, how=None):
    return RosterEntry("m", None, status, joined, "link", left, how, T0)


def test_membership_follows_the_last_join_and_the_last_leave():
    came_back = entry("member", joined=T0 + timedelta(days=2), left=T0 + timedelta(days=1))
    assert [member_at(came_back, T0 + timedelta(hours=h)) for h in (12, 36, 60)] == [True, False, True]
    gone = entry("left", joined=T0, left=T0 + timedelta(days=1), how="removed")
    assert [member_at(gone, T0 + timedelta(hours=h)) for h in (-1, 12, 36)] == [False, True, False]
    figures = roster_figures([came_back, gone], T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert (figures.members, figures.leaves, figures.removed) == (0, 2, 1)


def test_an_owner_s_figures_are_shared_by_members_and_add_up():
    assert split(10, {"a": 100, "b": 50, "c": 50}) == {"a": 5, "b": 3, "c": 2}
    assert sum(split(7, {"a": 1, "b": 1, "c": 1}).values()) == 7
    assert split(3, {"a": 0, "b": 0}) == {"a": 2, "b": 1}


def test_a_group_without_messages_counts_check_ins_and_says_so():
    sources = GroupSources("outbox", "Asia/Shanghai", [], [], [Earning("m1", "g", 5, "checkin"),
                                                               Earning("m2", "g", 50, "purchase")], [("skipped", None)])
    day = group_day(date(2026, 11, 25), sources)
    assert (day.active_members, day.checkins, day.buyers, day.points_earned) == (1, 1, 1, 55)
    assert day.activity_source == "checkins" and day.skipped == {"unknown": 1}


def test_a_window_sums_counts_keeps_the_last_members_and_rates_member_days():
    days = [DayFigures(members=100, active_members=50, leaves=10, joins={"qr": 5}),
            DayFigures(members=100, active_members=0, leaves=0, joins={"link": 1})]
    summed, rate = total(days)
    assert (summed.members, summed.leaves, summed.joins, rate) == (100, 10, {"qr": 5, "link": 1}, 0.25)
    view = window_view(days)
    assert (view["active_members"], view["active_rate"], view["leave_rate"]) == (25, 0.25, leave_rate(100, 10))


def test_a_customer_group_counts_check_ins_until_its_owner_s_statistics_are_shared():
    from qunyun.domain.metrics_day import with_statistic

    sources = GroupSources("wecom_customer_group", "Asia/Shanghai", [], [], [Earning("m1", "g", 5, "checkin")], [],
                           quota=(3, 31))
    day = group_day(date(2026, 12, 1), sources)
    assert (day.activity_source, day.active_members, day.quota_used, day.quota_left) == ("checkins", 1, 3, 28)
    with_statistic(day, 7, 40)
    assert (day.activity_source, day.active_members, day.messages) == ("wecom_statistic", 7, 40)


def _entry(member_id: str, link_for: str | None = None) -> RosterEntry:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return RosterEntry(member_id, None, "member", at, "link", None, None, at, link_for=link_for)


def test_a_group_without_links_elsewhere_is_not_split():
    src = GroupSources("outbox", "UTC", [_entry("a"), _entry("b", "campaign:x")], [], [], [])
    assert credited_days(date(2026, 11, 20), src, ("s1", "r1"), lambda e: ("s1", "r1"), {}) is None


def test_wecom_activity_is_shared_over_the_credited_parts_by_members():
    parts = {("s1", "r1"): DayFigures(members=3), ("s2", "r1"): DayFigures(members=1)}
    whole = DayFigures(members=4, active_members=5, messages=9, sources={"wecom_statistic": 1})
    shared_statistic(whole, parts)
    assert [(p.active_members, p.messages, p.sources) for p in parts.values()] == [
        (4, 7, {"wecom_statistic": 1}), (1, 2, {"wecom_statistic": 1})]
    assert sum(p.messages for p in parts.values()) == whole.messages
