"""The console's language and times: `?lang=` first, then the remembered choice, then Accept-Language, Chinese by
default; every key of the catalogue in both languages; an instant shown in the group's own timezone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from qunyun.adapters.console_render import catalogue, language, local_time, translator


@pytest.mark.parametrize(("asked", "remembered", "accept", "expected"), [
    (None, None, None, "zh"),
    (None, None, "en-US,en;q=0.9", "en"),
    (None, None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    (None, None, "fr-FR,fr;q=0.9", "zh"),
    (None, "en", "zh-CN", "en"),
    ("zh", "en", "en-US", "zh"),
    ("xx", None, "en", "en"),  # an unknown choice is ignored, not echoed
])
def test_the_language_of_a_page(asked, remembered, accept, expected):
    assert language(asked, remembered, accept) == expected


def test_every_message_has_both_languages_and_its_placeholders_in_each():
    for key, entry in catalogue().items():
        assert entry.get("zh") and entry.get("en"), key
        assert sorted(re.findall(r"\{(\w+)\}", entry["zh"])) == sorted(re.findall(r"\{(\w+)\}", entry["en"])), key
    assert translator("en")("today_title", day="2026-12-05") == "Today · 2026-12-05"
    assert translator("zh")("no-such-key") == "no-such-key"


def test_times_are_shown_in_the_groups_timezone():
    at = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    assert local_time(at, "Asia/Shanghai") == "2026-12-05 07:30"
    assert local_time(at.isoformat(), "Asia/Tokyo") == "2026-12-05 08:30"
    assert local_time(None, "Asia/Shanghai") == ""
