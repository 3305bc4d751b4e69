"""The demo's files are dated from the day it runs: no date it shows is fixed in the past."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from qunyun_ops import demo_dates

DEMO = Path(__file__).resolve().parents[2] / "infra" / "demo"
DAYS = [date(2026, 12, 4), date(2026, 12, 5), date(2027, 1, 31), date(2027, 3, 1)]


def _dates(text: str) -> list[date]:
    return [date.fromisoformat(d) for d in re.findall(r"\d{4}-\d{2}-\d{2}", text)]


@pytest.mark.parametrize("today", DAYS)
def test_the_brief_is_todays_and_its_event_on_the_coming_saturday(today):
    text = demo_dates.brief((DEMO / "brief.yaml").read_text(encoding="utf-8"), today)
    assert f"date: {today.isoformat()}" in text
    assert f"title: 早安 · {today.month}月{today.day}日" in text
    (event,) = re.findall(r"time: (\d{4}-\d{2}-\d{2})T20:00:00\+08:00", text)
    event_day = date.fromisoformat(event)
    assert event_day.weekday() == 5 and today < event_day <= today + timedelta(days=7)
    assert "周六直播" in text
    assert all(d >= today for d in _dates(text))


@pytest.mark.parametrize("today", DAYS)
def test_flash_groups_end_after_today_and_rewards_are_on_sale(today):
    groups = demo_dates.groups((DEMO / "groups.csv").read_text(encoding="utf-8"), today)
    assert _dates(groups) == [today + timedelta(days=demo_dates.FLASH_DAYS)]
    assert groups.count("\n") == (DEMO / "groups.csv").read_text(encoding="utf-8").count("\n")
    rewards = demo_dates.rewards((DEMO / "rewards.yaml").read_text(encoding="utf-8"), today)
    assert _dates(rewards) == [today.replace(day=1)]


def test_an_event_is_titled_with_its_own_weekday():
    text = demo_dates.event("live-demo", date(2026, 12, 6), "https://example.com/live", "g1")
    assert "title: 周日直播：冬季护肤" in text and "starts_at: 2026-12-06T15:00:00+08:00" in text
