"""The demo's files dated from the day it runs: infra/demo/ holds them as written on one day (they stay valid
examples for the README's commands), and the demo imports copies whose every date is computed from today, so
a brief never announces an event already past and a flash group never ends before the demo starts."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
SATURDAY = 5
FLASH_DAYS = 3  # the sample flash group (a DingTalk robot) ends this many days after the demo, at 22:00


def weekday_cn(day: date) -> str:
    return WEEKDAYS[day.weekday()]


def next_weekday(today: date, weekday: int) -> date:
    """The first such weekday after today (a week ahead when today is one)."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def brief(text: str, today: date) -> str:
    """A brief of `today`: its date and the day in its title, and its event on the coming Saturday at 20:00."""
    saturday = next_weekday(today, SATURDAY)
    text = re.sub(r"(?m)^date: .*$", f"date: {today.isoformat()}", text)
    text = re.sub(r"(?m)^(title: .*?)\d{1,2}月\d{1,2}日", rf"\g<1>{today.month}月{today.day}日", text)
    return re.sub(r"(?m)^(\s+time: )\d{4}-\d{2}-\d{2}T", rf"\g<1>{saturday.isoformat()}T", text)


def groups(text: str, today: date) -> str:
    """The group CSV, flash groups ending FLASH_DAYS from today at 22:00 Shanghai time."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    at = rows[0].index("ends_at")
    ends = f"{(today + timedelta(days=FLASH_DAYS)).isoformat()}T22:00:00+08:00"
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(
        [rows[0], *[[*r[:at], ends if r[at] else "", *r[at + 1:]] for r in rows[1:]]])
    return out.getvalue()


def rewards(text: str, today: date) -> str:
    """The mall's rewards, on sale from the first of this month."""
    return re.sub(r"(?m)^(\s+active_from: )\d{4}-\d{2}-\d{2}T", rf"\g<1>{today.replace(day=1).isoformat()}T", text)


def event(event_id: str, day: date, link: str, group_id: str) -> str:
    """An events file announcing a live stream on `day` at 15:00, titled with that day's weekday."""
    return f"""\
events:
  - id: {event_id}
    title: {weekday_cn(day)}直播：冬季护肤
    starts_at: {day.isoformat()}T15:00:00+08:00
    link: {link}
    groups: {{ids: [{group_id}]}}
"""
