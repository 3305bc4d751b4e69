"""The points and mall benchmarks run end to end at a small size, each on a DynamoDB Local of its own: a change that
breaks a benchmark's own code (its meters, floors or report) fails here, in `make test`, and not first in a
benchmark run. (A member item's binary `journal` once made the mall benchmark's request meter fail on every
redemption.) Their figures at this size say nothing, and nothing here checks them: only that each ran to its report,
and that the report accounts for the work it was given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str, quick: bool = False) -> dict:
    """The benchmark's report: the JSON object its last line prints (`quick`: at a tenth of its size, QUICK=1)."""
    env = {**os.environ, "QUICK": "1"} if quick else None
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "bench" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_mall_benchmark_runs_to_its_report():
    report = run("mall.py", "--clients", "2", "--redemptions", "40", "--hot", "20", "--warm", "10", "--runs", "1",
                 "--members", "2", "--shards", "2")
    assert report["benchmark"] == "mall" and (report["redemptions"], report["runs"]) == (40, 1)
    assert report["redeem"]["transactions_committed"] == 40 and report["redeem"]["lost_races"] == 0
    assert report["redeem"]["aws_write_units_per_redemption"] > 0 and report["cost"]["usd_per_million"]["total"] > 0
    assert {c["figure"] for c in report["checks"]} == {
        "redemptions a second", "redemption p99", "$ per million redemptions"}


def test_the_points_benchmark_runs_to_its_report():
    report = run("points.py", quick=True)  # its days and due times are laid out for this size and up
    assert report["benchmark"] == "points"
    assert report["reconcile"]["mismatched"] == 0, report["reconcile"]
    assert len(report["checks"]) == 4 and report["cost"]["usd_per_million"]["total"] > 0
