"""The demo's WeCom route (`python -m qunyun_ops.demo --only briefs`, part of `make demo`): the morning brief
becomes one mass-send task per owner although BriefDispatch fires twice, the customer groups wait for their owner,
FollowUpOwnerTasks records the groups an owner sent to and reminds both owners about the rest, and the evening
brief, past the customer groups' quota of one mass send a day, is recorded skipped with reason quota."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from support_stack import ROOT

CUSTOMER_GROUPS = ("tea-gold", "tea-parents-02", "tea-parents-03", "tea-parents-04")


def tables(output: str) -> list[dict[tuple[str, str], tuple[str, str]]]:
    """Every `deliveries list` table the demo printed: (group, edition) → (status, reason)."""
    found, current = [], None
    for line in output.splitlines():
        if re.match(r"\d+ deliveries of demo-tea on ", line):
            current = {}
            found.append(current)
        elif current is not None and line.startswith("│ 20"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            current[(cells[1], cells[3])] = (cells[5], cells[6])
    return found


def test_the_demo_shows_the_wecom_route(tmp_path):
    env = {**os.environ, "QUNYUN_STATE_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    for key in ("DYNAMODB_ENDPOINT", "STACK_NAME", "QUNYUN_SECRETS_FILE"):
        env.pop(key, None)
    # WHEN the demo's briefs part runs
    run = subprocess.run([sys.executable, "-m", "qunyun_ops.demo", "--only", "briefs"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert "Demo complete." in out
    # THEN WeCom received one mass-send task per owner, whatever the dispatcher's second run did
    tasks = re.findall(r"^--- task (\S+) for (\S+): (.+) \(\d+ bytes\) ---$", out, re.M)
    assert sorted((owner, sorted(groups.split(", "))) for _, owner, groups in tasks) == [
        ("li.na", ["tea-parents-02", "tea-parents-03", "tea-parents-04"]), ("wang.wei", ["tea-gold"])]
    # AND after the dispatch every customer group awaits its owner
    after_dispatch, after_follow_up, after_evening = tables(out)
    assert {g: after_dispatch[(g, "morning")] for g in CUSTOMER_GROUPS} == \
        {g: ("awaiting_owner", "") for g in CUSTOMER_GROUPS}
    # AND the follow-up recorded the two groups li.na sent to, and reminded both owners about the rest
    assert '"sent": 2' in out and '"reminded": 2' in out
    assert re.search(r"reminders WeCom accepted: msgDEMO\d+ \((li.na|wang.wei)\), msgDEMO\d+ \((li.na|wang.wei)\)",
                     out)
    assert {g: after_follow_up[(g, "morning")][0] for g in CUSTOMER_GROUPS} == {
        "tea-parents-02": "sent", "tea-parents-03": "sent", "tea-parents-04": "awaiting_owner",
        "tea-gold": "awaiting_owner"}
    # AND the evening brief no longer fits the customer groups' quota, while the outbox group still gets it
    assert {g: after_evening[(g, "evening")] for g in CUSTOMER_GROUPS} == {g: ("skipped", "quota")
                                                                           for g in CUSTOMER_GROUPS}
    assert after_evening[("tea-parents-01", "evening")] == ("sent", "")
    assert "no WeCom corp credentials" not in out
