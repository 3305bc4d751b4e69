"""Rendering farewells, reminders and cancellations: every dialect, member and operator text made inert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from qunyun.adapters.render import render
from qunyun.domain.briefs import DIALECT_NAMES
from qunyun.domain.notices import NOTICES, compose_cancellation, compose_farewell, compose_reminder, lead_phrase
from test_brief_render import HOSTILE, visible

STARTS = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
GROUP = {"id": "f1", "name": "双11 快闪群"}
INVITE = {"name": "茶友长期群", "link": "https://example.com/join?g=1&src=flash"}
TOP = [{"rank": 1, "name": "小美", "points": 120}, {"rank": 2, "name": "阿强", "points": 90}]


def contexts(name: str = GROUP["name"], title: str = "周六直播", nick: str = "小美", locale: str = "zh-CN") -> dict:
    group = {**GROUP, "name": name}
    event = {"id": "live-1", "title": title, "link": "https://example.com/live"}
    top = [{**TOP[0], "name": nick}, TOP[1]]
    return {
        "farewell": compose_farewell(group, {"contact": "客服 微信 tea-help", "hours": "09:00-21:00"}, INVITE, top,
                                     locale),
        "reminder": compose_reminder(event, group, "1h", timedelta(hours=1), STARTS, "Asia/Shanghai", locale),
        "cancelled": compose_cancellation(event, group, STARTS, "Asia/Shanghai", locale),
    }


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
@pytest.mark.parametrize("notice", NOTICES)
def test_every_notice_renders_in_every_dialect(dialect, notice):
    text = visible(dialect, render(dialect, notice, contexts()[notice], family="notices"))
    assert GROUP["name"] in text or notice != "farewell"
    if notice == "farewell":
        assert "客服 微信 tea-help" in text and "09:00-21:00" in text and "茶友长期群" in text
        assert "1. 小美 · 120分" in text and "2. 阿强 · 90分" in text
    else:
        assert "周六直播" in text and "11月29日 20:00" in text
    if notice == "reminder":
        assert "还有 1 小时" in text


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_member_and_operator_text_arrives_inert(dialect, hostile):
    # GIVEN a top member's nickname, the group's name and an event title that try to mention everyone or inject
    for notice, ctx in contexts(name=f"群{hostile}", title=f"直播{hostile}", nick=f"美{hostile}").items():
        text = render(dialect, notice, ctx, family="notices")
        # THEN none of it reaches the platform as written
        assert hostile not in text, (notice, text)


def test_a_farewell_without_an_invitation_names_nobody():
    ctx = compose_farewell(GROUP, {"contact": "客服", "hours": None}, None, TOP, "zh-CN")
    text = render("text", "farewell", ctx, family="notices")
    assert "小美" not in text and "长期群" not in text and "服务时间" not in text


def test_english_words_and_leads():
    text = render("slack_mrkdwn", "reminder", contexts(locale="en")["reminder"], family="notices")
    assert "Starting in 1 h" in text and "Sun 29 Nov 20:00" in text
    assert lead_phrase("eve", None, "zh-CN") == "明天见！"
    assert lead_phrase("90m", timedelta(minutes=90), "zh-CN") == "还有 90 分钟，不要错过"
    assert lead_phrase("12h", timedelta(hours=12), "en") == "Starting in 12 h, don't miss it"
