"""Dead letters on `qunyun local up`: a push whose sending fails on every receive lands in its queue's dead-letter
queue (the template's RedrivePolicy), `qunyun deadletters list` shows it, `deadletters redrive` sends it back, and
it is delivered once: a copy arriving after that sends nothing, because the push's delivery record decides."""

from __future__ import annotations

import json
import re
import time

from fakes.wecom_robot import FakeWecomRobot
from qunyun_ops.local.sqs import queues_empty, sqs_client
from qunyun_ops.local.template import Template
from support_stack import HEADER, ROOT, Stack, ok

BRIEF = "date: 2026-11-29\nedition: morning\ntitle: 早安\nsections:\n  - kind: tip\n    text: 泡绿茶水温 80°C 最佳\n"
ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1"


def fast_template(tmp_path):
    """template.yaml with queues that hand a failed message back after 3 s instead of minutes."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    text = re.sub(r"VisibilityTimeout: \d+", "VisibilityTimeout: 3", text)
    text = text.replace("CodeUri: functions/", f"CodeUri: {ROOT / 'functions'}/")
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def parked(stack: Stack, *args: str) -> list[dict]:
    return json.loads(ok(stack.cli("deadletters", "list", "--json", "--local", *args)).stdout)


def statuses(stack: Stack) -> list[str]:
    listed = ok(stack.cli("deliveries", "list", "--tenant", "tea", "--date", "2026-11-29", "--json", "--local"))
    return [r["status"] for r in json.loads(listed.stdout)]


def until(check, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def test_a_dead_lettered_push_is_listed_redriven_and_delivered_once(tmp_path):
    with FakeWecomRobot() as robot:
        robot.add_robot("k-1")
        stack = Stack(tmp_path / "state")
        stack.env.update({"QUNYUN_WECOM_BASE_URL": robot.base_url, "QUNYUN_TEMPLATE": str(fast_template(tmp_path))})
        stack.up("--no-schedule")
        try:
            # GIVEN a robot group with today's brief
            ok(stack.cli("tenants", "create", "tea", "--name", "Tea", "--timezone", "Asia/Shanghai", "--local"))
            (tmp_path / "groups.csv").write_text(f"{HEADER}\ng1,茶友群,welfare,wecom_robot,{ROBOT},,,,,06:05,-,,,,",
                                                 encoding="utf-8")
            ok(stack.cli("groups", "import", str(tmp_path / "groups.csv"), "--tenant", "tea", "--local"))
            (tmp_path / "brief.yaml").write_text(BRIEF, encoding="utf-8")
            ok(stack.cli("briefs", "add", str(tmp_path / "brief.yaml"), "--tenant", "tea", "--local"))
            # AND a secret store that cannot be read (an outage): every attempt fails before the channel is called
            secrets = stack.state / "secrets.json"
            saved = secrets.read_bytes()
            secrets.write_text("{", encoding="utf-8")
            # WHEN the brief is dispatched and its sender fails on it five times
            ok(stack.cli("local", "run", "BriefDispatch", "--at", "2026-11-29T06:05:00+08:00"))
            # THEN it is parked, and the listing says what it is
            (entry,) = until(lambda: parked(stack))
            # (the queues are whatever template.yaml calls the push queue and its dead-letter queue)
            template = Template.read(ROOT / "template.yaml")
            pushes = {s.queue for s in template.queue_sources}
            assert entry["source"] in pushes and entry["queue"] == template.redrives[entry["source"]]
            assert (entry["kind"], entry["tenant"], entry["group_ids"], entry["push"]) == \
                ("brief", "tea", ["g1"], "brief.morning")
            assert entry["receives"] == 5 and entry["first_failure"]
            assert parked(stack, "--queue", entry["source"]) == parked(stack, "--queue", entry["queue"]) != []
            table = ok(stack.cli("deadletters", "list", "--local")).stdout
            assert "1 dead letter(s)" in table and entry["id"] in table and "brief.morning" in table
            assert robot.received == [] and statuses(stack) == ["planned"]
            unknown = stack.cli("deadletters", "list", "--queue", "NoSuchQueue", "--local")
            assert unknown.returncode == 2 and entry["source"] in unknown.stderr
            # WHEN the store is back and the message is redriven by its id
            secrets.write_bytes(saved)
            moved = json.loads(ok(stack.cli("deadletters", "redrive", "--id", entry["id"], "--json",
                                            "--local")).stdout)
            assert [(m["id"], m["source"]) for m in moved] == [(entry["id"], entry["source"])]
            # THEN the group receives the brief, once, and nothing is parked any more
            assert until(lambda: robot.received)
            assert until(lambda: statuses(stack) == ["sent"]), statuses(stack)
            assert parked(stack) == []
            # AND a second copy of the message (a redrive repeated after a stop) sends nothing
            state = json.loads((stack.state / "local.json").read_text())
            client = sqs_client(state["sqs_endpoint"])
            client.send_message(QueueUrl=state["queues"][entry["source"]], MessageBody=entry["body"])
            assert until(lambda: queues_empty(client, state["consumed_queues"]))
            time.sleep(1)
            assert len(robot.received) == 1
            nothing = stack.cli("deadletters", "redrive", "--id", entry["id"], "--local")
            assert nothing.returncode == 2 and "no parked message" in nothing.stderr
        finally:
            stack.stop()
