"""The demo's join links (`python -m qunyun_ops.demo --only links`): a store's WeCom join QR code rolls over to the
group WeCom opens when the first is full, every joiner credited to the store; a top member's Telegram link brings
two friends, one leaves the next day, and SettlePoints releases the invite points of the one who stayed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from support_stack import ROOT


def test_the_demo_shows_join_links(tmp_path):
    env = {**os.environ, "QUNYUN_STATE_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    for key in ("DYNAMODB_ENDPOINT", "STACK_NAME", "QUNYUN_SECRETS_FILE"):
        env.pop(key, None)
    # WHEN the demo's links part runs
    run = subprocess.run([sys.executable, "-m", "qunyun_ops.demo", "--only", "links"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert "Demo complete." in out and "Traceback" not in out + run.stderr
    # THEN the third scan opened a second group, registered like the first, and all three joins count for the store
    assert len(re.findall(r"scans \S+ → a new group WeCom opened", out)) == 1
    rolled = json.loads(re.search(r"registered like the first: (\{.*\})$", out, re.M).group(1))
    assert (rolled["kind"], rolled["store"], rolled["sales_rep"], rolled["tags"]) == (
        "store", "store-03", "li.na", ["store", "shanghai"])
    assert re.search(r"│ store:store-03 .*│ active │ 2\s+│ 3\s+│ 3\s+│", out)
    # AND the member's invite points: 100 held, 50 cancelled by the leave, 50 released by the settle job
    assert "pending 100" in out and "pending 50, cancelled 50" in out
    assert "telegram:8001: available +50, pending -50, cancelled +0" in out
    assert re.search(r"│ member:telegram:8001 .*│ 1\s+│ 2\s+│ 1\s+│", out)
