"""Briefs end to end on `qunyun local up`: groups imported and a brief added with the CLI, BriefDispatch fired
twice for the same time with `qunyun local run`, the queue polled into SendPushes, and an independent fake WeCom
robot receiving exactly one brief per group."""

from __future__ import annotations

import json
import time

import pytest
from qunyun_ops.local.sqs import queues_empty, sqs_client
from support_stack import HEADER, java_processes, ok, sqs_servers, stack_with_robot

KEYS = ("k-1", "k-2", "k-3")
BRIEF = """\
date: 2026-11-29
edition: morning
title: 早安
sections:
  - kind: tip
    text: 泡绿茶水温 80°C 最佳
"""


@pytest.fixture(scope="module")
def stack_and_robot(tmp_path_factory):
    with stack_with_robot(tmp_path_factory.mktemp("briefs-local"), *KEYS) as pair:
        yield pair


@pytest.fixture(scope="module")
def stack(stack_and_robot):
    return stack_and_robot[0]


@pytest.fixture(scope="module")
def robot(stack_and_robot):
    return stack_and_robot[1]


def test_firing_the_dispatcher_twice_delivers_one_brief_per_group(stack, robot):
    # GIVEN a tenant with three robot groups whose morning is 06:05, one more with the morning off, and the brief
    ok(stack.cli("tenants", "create", "tea", "--name", "Tea", "--timezone", "Asia/Shanghai", "--local"))
    rows = [f"g{i},茶友群 {i},welfare,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={k},,,,,06:05,-,,,,"
            for i, k in enumerate(KEYS)]
    rows.append("quiet,安静群,welfare,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1,,,,,-,-,,,,")
    (stack.state / "groups.csv").write_text("\n".join([HEADER, *rows]), encoding="utf-8")
    ok(stack.cli("groups", "import", str(stack.state / "groups.csv"), "--tenant", "tea", "--local"))
    (stack.state / "brief.yaml").write_text(BRIEF, encoding="utf-8")
    ok(stack.cli("briefs", "add", str(stack.state / "brief.yaml"), "--tenant", "tea", "--local"))
    # WHEN BriefDispatch is fired twice as at 06:05 Shanghai time (a scheduler retry)
    for _ in range(2):
        run = json.loads(ok(stack.cli("local", "run", "BriefDispatch", "--at", "2026-11-29T06:05:00+08:00")).stdout)
        # (the scheduled run plans the slot as dispatch pages; the stack hands each page to BriefDispatch
        # from its own queue, as it hands the push queue to SendPushes)
        assert run["pages"] >= 1 and "messages" not in run
    # THEN each group's robot receives the brief, once
    deadline = time.monotonic() + 60
    while len(robot.received) < len(KEYS) and time.monotonic() < deadline:
        time.sleep(0.2)
    records = []
    while time.monotonic() < deadline:  # until every push is recorded, so nothing is still on its way
        listed = json.loads(ok(stack.cli("deliveries", "list", "--tenant", "tea", "--date", "2026-11-29", "--json",
                                         "--local")).stdout)
        records = listed
        if len(records) == len(KEYS) and all(r["status"] == "sent" for r in records):
            break
        time.sleep(0.3)
    # (and until the queue holds nothing more: the second run's messages have been handled too)
    state = json.loads((stack.state / "local.json").read_text())
    client = sqs_client(state["sqs_endpoint"])
    while not queues_empty(client, state["consumed_queues"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queues_empty(client, state["consumed_queues"])
    assert any(url.endswith("-dispatch-pages") for url in state["consumed_queues"])
    assert sorted(r.key for r in robot.received) == sorted(KEYS)
    assert all(r.msgtype == "markdown" and "泡绿茶水温" in r.content for r in robot.received)
    # AND each push has one record, sent, for its group
    assert sorted((r["group_id"], r["status"]) for r in records) == [(f"g{i}", "sent") for i in range(3)]


def test_stopping_the_stack_leaves_no_process_behind(stack):
    pid = stack.proc.pid
    assert sqs_servers(pid) and java_processes(stack.ddb_port)
    assert stack.stop() == 0
    assert sqs_servers(pid) == [] and java_processes(stack.ddb_port) == []
