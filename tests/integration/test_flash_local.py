"""A flash group end to end on `qunyun local up`: created with `qunyun flash create`, ExpireFlashGroups fired twice
as at its end with `qunyun local run`, the queue polled into SendPushes, and an independent fake WeCom robot
receiving exactly one farewell; a later firing dissolves the group and `qunyun flash report` shows it."""

from __future__ import annotations

import json
import time

import pytest
from qunyun_ops.local.sqs import queues_empty, sqs_client
from support_stack import HEADER, ok, stack_with_robot

ENDS = "2026-11-29T21:00:00+08:00"
FLASH = f"""\
groups:
  - group_id: sale-1
    name: 双十二闪购群
    channel: wecom_robot
    webhook_url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-sale
    ends_at: {ENDS}
    after_sales:
      contact: 微信 tea-help
      hours: "9:00-18:00"
    invite:
      group_id: long
      link: https://example.com/join
"""


@pytest.fixture(scope="module")
def stack_and_robot(tmp_path_factory):
    with stack_with_robot(tmp_path_factory.mktemp("flash-local"), "k-sale") as pair:
        yield pair


@pytest.fixture(scope="module")
def stack(stack_and_robot):
    return stack_and_robot[0]


@pytest.fixture(scope="module")
def robot(stack_and_robot):
    return stack_and_robot[1]


def test_firing_expire_twice_sends_one_farewell_and_the_group_dissolves(stack, robot):
    # GIVEN a tenant with a long-term group and a flash robot group created from a flash file
    ok(stack.cli("tenants", "create", "tea", "--name", "Tea", "--timezone", "Asia/Shanghai", "--local"))
    (stack.state / "groups.csv").write_text(f"{HEADER}\nlong,长期福利群,welfare,outbox,,,,,,,,,,,", encoding="utf-8")
    ok(stack.cli("groups", "import", str(stack.state / "groups.csv"), "--tenant", "tea", "--local"))
    (stack.state / "flash.yaml").write_text(FLASH, encoding="utf-8")
    ok(stack.cli("flash", "create", str(stack.state / "flash.yaml"), "--tenant", "tea", "--local"))
    # WHEN ExpireFlashGroups is fired twice as at its end (a scheduler retry)
    for _ in range(2):
        ok(stack.cli("local", "run", "ExpireFlashGroups", "--at", ENDS))
    # THEN the robot receives the farewell, once, once the queue is drained
    deadline = time.monotonic() + 60
    while not robot.received and time.monotonic() < deadline:
        time.sleep(0.2)
    state = json.loads((stack.state / "local.json").read_text())
    client = sqs_client(state["sqs_endpoint"])
    while not queues_empty(client, state["consumed_queues"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queues_empty(client, state["consumed_queues"])
    [farewell] = robot.received
    assert farewell.key == "k-sale" and "微信 tea-help" in farewell.content and "长期福利群" in farewell.content
    # AND a firing five minutes later dissolves the group; the report says so and counts the farewell
    ok(stack.cli("local", "run", "ExpireFlashGroups", "--at", "2026-11-29T21:05:00+08:00"))
    report = json.loads(ok(stack.cli("flash", "report", "sale-1", "--tenant", "tea", "--json", "--local")).stdout)
    assert (report["state"], report["figures"]["farewell"], report["figures"]["pushes"]["sent"]) == (
        "dissolved", "sent", 1)
    assert len(robot.received) == 1
    # AND the group itself is dissolved
    group = json.loads(ok(stack.cli("groups", "show", "sale-1", "--tenant", "tea", "--json", "--local")).stdout)
    assert group["status"] == "dissolved"


def test_stopping_the_stack_leaves_no_process_behind(stack):
    assert stack.stop() == 0
