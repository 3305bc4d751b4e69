"""Check-ins written in a group: which messages are check-ins, their event ids, and the batched reply (every dialect,
member names inert, 20 named and the others counted), which spends no slot of the daily cap."""

from __future__ import annotations

from datetime import date

import pytest
from qunyun.adapters.render import render
from qunyun.domain.briefs import DIALECT_NAMES
from qunyun.domain.checkin_words import checkin_event_id, compose_checkin_reply, says_checkin
from qunyun.domain.member_names import shown_name
from qunyun.domain.quota import Budget, Push, Spent, decide
from test_brief_render import HOSTILE, visible

KEYWORDS = ["签到", "打卡", "Check in"]


@pytest.mark.parametrize(("text", "is_checkin"), [
    ("签到", True), (" 签到！", True), ("打卡~", True), ("check IN", True), ("签到了吗", False),
    ("我明天再签到", False), ("", False), (None, False), ("hello", False)])
def test_a_check_in_is_the_keyword_alone(text, is_checkin):
    assert says_checkin(text, KEYWORDS) is is_checkin


def test_a_check_ins_event_id_names_its_message_and_chat():
    assert checkin_event_id("telegram", "-1001", "70") == "telegram.-1001.70"
    assert checkin_event_id("telegram", "-1002", "70") != checkin_event_id("telegram", "-1001", "70")
    odd = checkin_event_id("dingtalk", "cid+a/b==", "msg/1")
    assert odd.startswith("dingtalk.") and "/" not in odd and odd == checkin_event_id("dingtalk", "cid+a/b==", "msg/1")


def test_names_lose_their_control_characters():
    assert shown_name("Ann\x07\u202e\nB", "telegram:1") == "AnnB"
    assert shown_name("\x07", "telegram:1") == "telegram:1" and shown_name(None, "telegram:2") == "telegram:2"


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_reply_names_members_inert_in_every_dialect(dialect, hostile):
    ctx = compose_checkin_reply([(f"美{hostile}", 3), ("阿强", 1)], "zh-CN")
    text = render(dialect, "checkin_reply", ctx, family="notices")
    assert hostile not in text, text
    shown = visible(dialect, text)
    assert shown.startswith("签到成功") and "（连续 3 天）" in shown and "阿强" in shown


def test_the_reply_names_20_and_counts_the_others():
    ctx = compose_checkin_reply([(f"m{i}", 1) for i in range(25)], "en")
    text = render("text", "checkin_reply", ctx, family="notices")
    assert text.startswith("Checked in: m0, m1") and "m19" in text and "m20" not in text
    assert text.rstrip().endswith("and 5 others")


def test_a_reply_spends_no_slot_of_the_daily_cap():
    budget = Budget(daily_cap=2)
    day = date(2026, 12, 4)
    full = Spent(day=2, pushes=frozenset({"brief.morning", "brief.evening"}), begun=True)
    reply = Push.checkin_reply("1764806400")
    assert reply.free and decide(reply, day, budget, full).take
    assert not Push.brief("morning").free
