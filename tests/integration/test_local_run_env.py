"""`qunyun local run` gives a job the environment `qunyun local up` gives its functions: a setting passed only to
`local up` (here the WeCom base URL, pointing at an independent fake) reaches a job fired from another shell."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fakes.wecom_customer_group import FakeWecomCustomerGroups
from support_stack import HEADER, ROOT, Stack, ok

BRIEF = "date: {day}\nedition: morning\ntitle: 早安\nsections:\n  - kind: tip\n    text: 泡绿茶水温 80°C 最佳\n"


def records(stack: Stack, day: str) -> dict[str, dict]:
    listed = ok(stack.cli("deliveries", "list", "--tenant", "tea", "--date", day, "--json", "--local")).stdout
    return {r["group_id"]: r for r in json.loads(listed)}


def wait_for(stack: Stack, day: str, wanted: dict[str, str], timeout: float = 60) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = records(stack, day)
        if {g: r["status"] for g, r in found.items()} == wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_local_run_uses_the_base_url_given_only_to_local_up(tmp_path):
    with FakeWecomCustomerGroups() as wecom:
        wecom.add_corp("corp-1", "corp-s3cret")
        wecom.add_owner("li.na", ["wr1", "wr2"])
        stack = Stack(tmp_path)
        # GIVEN a stack started with the WeCom base URL set in its own shell only
        stack.env["QUNYUN_WECOM_BASE_URL"] = wecom.base_url
        stack.up("--no-schedule")
        del stack.env["QUNYUN_WECOM_BASE_URL"]
        try:
            # AND two customer groups of one owner whose brief became a mass-send task at the fake
            ok(stack.cli("tenants", "create", "tea", "--name", "Tea", "--local"))
            subprocess.run([sys.executable, "-m", "qunyun_ops.cli", "tenants", "wecom", "tea", "--corp-id", "corp-1",
                            "--corp-secret-stdin", "--local"], input="corp-s3cret\n", env=stack.env, cwd=ROOT,
                           check=True, capture_output=True, text=True)
            rows = [f"cg{i},客户群 {i},traffic,wecom_customer_group,,,li.na,wr{i},,,,,,," for i in (1, 2)]
            (tmp_path / "groups.csv").write_text("\n".join([HEADER, *rows]), encoding="utf-8")
            ok(stack.cli("groups", "import", str(tmp_path / "groups.csv"), "--tenant", "tea", "--local"))
            day = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
            (tmp_path / "brief.yaml").write_text(BRIEF.format(day=day), encoding="utf-8")
            ok(stack.cli("briefs", "add", str(tmp_path / "brief.yaml"), "--tenant", "tea", "--local"))
            ok(stack.cli("local", "run", "BriefDispatch", "--at", f"{day}T08:00:00+08:00"))
            waiting = wait_for(stack, str(day), {"cg1": "awaiting_owner", "cg2": "awaiting_owner"})
            assert {r["status"] for r in waiting.values()} == {"awaiting_owner"}, waiting
            (msgid,) = wecom.tasks
            # WHEN the owner sends to one group and FollowUpOwnerTasks is fired from a shell without the base URL
            wecom.confirm(msgid, "li.na", ["wr1"])
            ran = ok(stack.cli("local", "run", "FollowUpOwnerTasks", "--at", f"{day}T09:15:00+08:00"))
            # THEN the job asked the fake (not the real WeCom): the confirmed group is sent, the owner reminded
            assert json.loads(ran.stdout).get("sent") == 1, ran.stdout
            assert {g: r["status"] for g, r in records(stack, str(day)).items()} == \
                {"cg1": "sent", "cg2": "awaiting_owner"}
            assert wecom.calls("get_groupmsg_send_result") >= 1 and [m for m, _ in wecom.reminded] == [msgid]
        finally:
            stack.stop()
