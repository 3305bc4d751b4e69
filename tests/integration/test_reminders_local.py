"""Event reminders end to end on `qunyun local up`: groups imported and an event added with the CLI, its plan
printed by `events plan`, SendReminders fired twice at a rung's time with `qunyun local run`, the queue polled
into SendPushes, and an independent fake WeCom robot receiving that rung once per group; then a cancel with
--notify, whose notice the next run sends."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from support_stack import HEADER, ok, stack_with_robot

KEYS = ("r-1", "r-2")


@pytest.fixture(scope="module")
def stack_and_robot(tmp_path_factory):
    with stack_with_robot(tmp_path_factory.mktemp("reminders-local"), *KEYS) as pair:
        yield pair


@pytest.fixture(scope="module")
def stack(stack_and_robot):
    return stack_and_robot[0]


@pytest.fixture(scope="module")
def robot(stack_and_robot):
    return stack_and_robot[1]


def wait_for(robot, n: int) -> None:
    deadline = time.monotonic() + 60
    while len(robot.received) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # and a moment more, for anything that should not come


def test_a_rung_fired_twice_on_the_local_stack_reaches_each_group_once(stack, robot):
    # GIVEN two robot groups, and an event the day after tomorrow at 15:00 Shanghai time
    ok(stack.cli("tenants", "create", "tea", "--name", "Tea", "--timezone", "Asia/Shanghai", "--local"))
    rows = [f"g{i},茶友群 {i},learning,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={k},,,,,,,,,,"
            for i, k in enumerate(KEYS)]
    (stack.state / "groups.csv").write_text("\n".join([HEADER, *rows]), encoding="utf-8")
    ok(stack.cli("groups", "import", str(stack.state / "groups.csv"), "--tenant", "tea", "--local"))
    day = (datetime.now(UTC) + timedelta(hours=8)).date() + timedelta(days=2)
    starts = f"{day.isoformat()}T15:00:00+08:00"
    (stack.state / "events.yaml").write_text(
        f"events:\n  - id: live-1\n    title: 周六直播\n    starts_at: {starts}\n    link: https://example.com/live\n"
        f"    groups: {{kinds: [learning]}}\n", encoding="utf-8")
    ok(stack.cli("events", "add", str(stack.state / "events.yaml"), "--tenant", "tea", "--local"))
    plan = json.loads(ok(stack.cli("events", "plan", "live-1", "--tenant", "tea", "--json", "--local")).stdout)
    rungs = {r["rung"]: r for r in plan["groups"][0]["rungs"]}
    assert rungs["1h"]["local_time"] == f"{day.isoformat()} 14:00" and rungs["1h"]["due"]
    # WHEN SendReminders is fired twice at the 1-hour rung (a scheduler retry)
    for _ in range(2):
        ok(stack.cli("local", "run", "SendReminders", "--at", f"{day.isoformat()}T14:00:00+08:00"))
    wait_for(robot, len(KEYS))
    # THEN each group's robot received the 1-hour rung once (the earlier rungs are past the grace: missed)
    assert sorted(r.key for r in robot.received) == sorted(KEYS)
    assert all("还有 1 小时" in r.content for r in robot.received)
    plan = json.loads(ok(stack.cli("events", "plan", "live-1", "--tenant", "tea", "--json", "--local")).stdout)
    for group in plan["groups"]:
        states = {r["rung"]: (r["delivery"], r["delivery_reason"]) for r in group["rungs"]}
        assert states == {"eve": ("skipped", "missed"), "12h": ("skipped", "missed"), "1h": ("sent", None)}
    # AND after a cancel with --notify, the next run sends each group one notice, and a later run nothing
    ok(stack.cli("events", "cancel", "live-1", "--notify", "--tenant", "tea", "--local"))
    for minute in ("14:05", "14:10"):
        ok(stack.cli("local", "run", "SendReminders", "--at", f"{day.isoformat()}T{minute}:00+08:00"))
    wait_for(robot, 2 * len(KEYS))
    assert sorted(r.key for r in robot.received[len(KEYS):]) == sorted(KEYS)
    assert all("活动取消" in r.content for r in robot.received[len(KEYS):])


def test_a_bad_events_file_writes_nothing(stack):
    # GIVEN a file with one good event and one with a start without offset and an unknown kind
    (stack.state / "bad.yaml").write_text(
        "events:\n  - id: good-1\n    title: 好活动\n    starts_at: 2030-01-01T10:00:00+08:00\n"
        "    groups: {ids: [g0]}\n  - id: bad-1\n    title: 坏活动\n    starts_at: 2030-01-01T10:00:00\n"
        "    groups: {kinds: [nonsense]}\n", encoding="utf-8")
    # WHEN it is added
    result = stack.cli("events", "add", str(stack.state / "bad.yaml"), "--tenant", "tea", "--local")
    # THEN the command fails naming each problem with its line, and neither event was stored
    assert result.returncode == 2
    assert "line 8, events[1].starts_at" in result.stderr and "events[1].groups.kinds[0]" in result.stderr
    assert "Nothing was changed" in result.stderr
    for event_id in ("good-1", "bad-1"):
        shown = stack.cli("events", "plan", event_id, "--tenant", "tea", "--local")
        assert shown.returncode == 2 and "no event" in shown.stderr
