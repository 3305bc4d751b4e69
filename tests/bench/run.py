"""`make bench`: every benchmark in turn, then one summary table; exits non-zero naming every missed target.

    .venv/bin/python tests/bench/run.py [NAME ...]       (QUICK=1: every benchmark at a tenth of its size)

Each benchmark is a script of its own (its own DynamoDB Local, its own processes); its last stdout line is
its JSON report, whose `checks` are the summary's rows. A benchmark that fails or prints no report is a
missed target too. The reports are kept in .qunyun/bench/ (one file a benchmark) for the docs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from harness import QUICK, Check, missed, table

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("groups_import", "cold_start", "points", "mall", "briefs", "dispatch", "inbound", "guard", "metrics",
              "console_page")
KEPT = HERE.parents[1] / ".qunyun" / "bench"


def run(name: str) -> tuple[list[Check], str | None]:
    """Runs one benchmark; returns its checks, and why it failed if it did."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / f"{name}.py")], stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - began
    print(f"== {name}: exit {done.returncode} in {seconds:.1f} s", file=sys.stderr, flush=True)
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return [], f"{name}: no report (exit {done.returncode})"
    KEPT.mkdir(parents=True, exist_ok=True)
    (KEPT / f"{name}{'.quick' if QUICK else ''}.json").write_text(lines[-1] + "\n")
    checks = [Check(**c) for c in result.get("checks", [])]
    if done.returncode != 0:
        return checks, f"{name}: exit {done.returncode}"
    if not checks:
        return checks, f"{name}: declares no targets"
    return checks, None


def main(names: list[str]) -> int:
    began = time.perf_counter()
    checks: list[Check] = []
    failures: list[str] = []
    for name in names or BENCHMARKS:
        got, failure = run(name)
        checks += got
        failures += [failure] if failure else []
    print(f"\n{'QUICK (a tenth of each size): ' if QUICK else ''}{len(names or BENCHMARKS)} benchmarks in "
          f"{time.perf_counter() - began:.0f} s\n")
    print(table(checks))
    bad = failures + missed(checks)
    if bad:
        print("\nmissed:\n" + "\n".join(f"  {b}" for b in bad))
        return 1
    print("\nevery target met")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
