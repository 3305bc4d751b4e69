"""The monthly bill of docs/cost.md's example tenants, from the last `make bench` reports (.qunyun/bench/).

    .venv/bin/python tests/bench/bill.py [--quick]

Each tenant's groups get two briefs a day; a quarter of each group's 200 members check in daily; every member
redeems once a month. A month is 30 days. The $ per million of each unit of work is the benchmark's own
(briefs: a direct-channel brief; points: an event over its life; mall: a redemption).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness import _number

KEPT = Path(__file__).resolve().parents[2] / ".qunyun" / "bench"
TENANTS = (("a shop's community", 400), ("a chain", 10_000), ("a group-buying company", 1_000_000))
MEMBERS, CHECKING_IN, BRIEFS_A_DAY, DAYS = 200, 0.25, 2, 30


def per_million(quick: bool) -> dict[str, float]:
    suffix = ".quick" if quick else ""
    return {name: json.loads((KEPT / f"{name}{suffix}.json").read_text())["cost"]["usd_per_million"]["total"]
            for name in ("briefs", "points", "mall")}


def month(groups: int) -> dict[str, float]:
    """Units of work a month."""
    return {"briefs": groups * BRIEFS_A_DAY * DAYS, "points": groups * MEMBERS * CHECKING_IN * DAYS,
            "mall": groups * MEMBERS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="from the QUICK run's reports")
    prices = per_million(parser.parse_args().quick)
    print("| tenant | groups | briefs | check-ins | redemptions | briefs $ | points $ | mall $ | total $ a month |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, groups in TENANTS:
        units = month(groups)
        usd = {k: units[k] / 1e6 * prices[k] for k in units}
        print(f"| {name} | {groups:,} | {units['briefs']:,.0f} | {units['points']:,.0f} | {units['mall']:,.0f} | "
              f"{_number(usd['briefs'])} | {_number(usd['points'])} | {_number(usd['mall'])} | "
              f"{_number(sum(usd.values()))} |")


if __name__ == "__main__":
    main()
