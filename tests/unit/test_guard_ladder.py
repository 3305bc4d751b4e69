"""The guard's pure rules: a removal that stands for its window, and which groups have no removal API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qunyun.domain.guard import Action, Offence, action_id, no_removal, removed_already

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def offence(at: datetime, message: str = "m3") -> Offence:
    return Offence("t", "g", "telegram", "c", "telegram:7", message, "ad", "word 1", "加微信", at)


def removal(at: datetime, status: str = "done", message: str = "m2") -> Action:
    return Action("t", action_id("remove", "g", "telegram:7", message), "remove", "g", "telegram", "c",
                  "telegram:7", message, "word 1", at, status)


def test_a_removal_in_the_window_stands_until_the_member_joins_again():
    later = offence(T0 + timedelta(days=1))
    this = action_id("remove", "g", "telegram:7", "m3")
    for status in ("intended", "done", "task", "closed"):
        assert removed_already([removal(T0, status)], later, 30, None, this)
    # GIVEN it was pardoned, is outside the window, or the member joined again since: it does not stand
    assert not removed_already([removal(T0, "pardoned")], later, 30, None, this)
    assert not removed_already([removal(T0)], offence(T0 + timedelta(days=31)), 30, None, this)
    assert not removed_already([removal(T0)], later, 30, T0 + timedelta(hours=1), this)
    assert removed_already([removal(T0)], later, 30, T0 - timedelta(days=5), this)
    # AND the offence's own removal (a retried batch) is not an earlier one
    assert not removed_already([removal(T0, "intended", "m3")], offence(T0), 30, None, this)


def test_only_dingtalk_scene_groups_and_the_api_platforms_can_remove():
    assert no_removal("dingtalk", ("scene_group",)) is None
    assert "scene groups" in no_removal("dingtalk", ("members",))
    assert "WeCom" in no_removal("wecom", ("scene_group",))
    assert all(no_removal(p, ()) is None for p in ("telegram", "feishu", "slack"))
