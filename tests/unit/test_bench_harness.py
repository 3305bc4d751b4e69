"""The benchmarks' judge: interleaved floors, the median of the ratios, targets, the summary and the cost."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import harness  # noqa: E402
from harness import Check, Target, Usage, cost_per_million, interleaved, missed, ratios, spread, table  # noqa: E402
from prices import PRICES  # noqa: E402


def test_floors_are_taken_before_between_and_after_the_path_runs():
    # GIVEN a floor and two path runs that log when they run
    order = []

    def floor(k):
        order.append(f"floor{k}")
        return 100.0 + k

    paths = [lambda k=k: order.append(f"path{k}") or 50.0 for k in (1, 2)]
    # WHEN they are interleaved
    floors, results = interleaved(floor, paths)
    # THEN every path run sits between two floor samples, each numbered for keys of its own
    assert order == ["floor0", "path1", "floor1", "path2", "floor2"]
    assert floors == [100.0, 101.0, 102.0] and results == [50.0, 50.0]


def test_each_path_is_compared_with_the_floors_either_side_of_it():
    # GIVEN floors that moved during the run: 100, then 200, then 100
    # WHEN two path samples of 60 and 80 are compared with them
    r = ratios([100.0, 200.0, 100.0], [60.0, 80.0])
    # THEN each path counts against both of its neighbours: 0.6, 0.3, 0.4, 0.8; median 0.5, spread 0.3-0.8
    assert r.samples == (0.6, 0.3, 0.4, 0.8)
    assert (r.median, r.low, r.high) == (0.5, 0.3, 0.8)
    with pytest.raises(AssertionError):
        ratios([100.0, 100.0], [60.0, 80.0])  # a path run without a floor after it


def test_a_target_holds_its_bound_inclusively_and_says_what_it_is():
    assert Target(at_least=0.5).met(0.5) and not Target(at_least=0.5).met(0.499)
    assert Target(at_most=1.5).met(1.5) and not Target(at_most=1.5).met(1.51)
    assert Target(at_least=0.5).text() == ">= 0.5" and Target(at_most=2).text() == "<= 2"


def test_a_ratio_check_is_judged_on_the_median_ratio_and_a_miss_is_named():
    # GIVEN a path whose ratios straddle the target, median below it, and a figure that meets its bound
    ratio = spread([0.42, 0.48, 0.55, 0.61])
    slow = Check.of_ratio("briefs", "direct briefs a second", 190.0, "/s", 400.0, ratio, Target(at_least=0.5))
    cheap = Check.of_figure("briefs", "write units a brief", 1.09, "WU", Target(at_most=1.5))
    # THEN the median (0.515) meets 0.5 though one sample does not; the summary names only what missed
    assert ratio.median == pytest.approx(0.515) and slow.met and cheap.met
    low = Check.of_ratio("briefs", "direct briefs a second", 150.0, "/s", 400.0, spread([0.3, 0.4, 0.45, 0.6]),
                         Target(at_least=0.5))
    assert missed([low, cheap]) == ["briefs: direct briefs a second (ratio >= 0.5)"]
    text = table([low, cheap])
    assert "0.425 (0.300-0.600)" in text and "NO" in text.splitlines()[2] and "yes" in text.splitlines()[3]


def test_quick_runs_take_a_tenth_of_each_size(monkeypatch):
    monkeypatch.setattr(harness, "QUICK", True)
    assert harness.scaled(10_000) == 1_000 and harness.scaled(5, least=2) == 2
    monkeypatch.setattr(harness, "QUICK", False)
    assert harness.scaled(10_000) == 10_000


def test_the_cost_per_million_adds_every_meter_at_its_price():
    # GIVEN a brief that used 1.1 write units, 0.5 read units, 0.3 SQS requests, and 20 ms of a 256 MB
    # function in an invocation shared by 100 briefs
    usage = Usage(write_units=1.1, read_units=0.5, sqs_requests=0.3).add_lambda("SendPushes", 0.02, 256, 0.01)
    # WHEN it is priced
    cost = cost_per_million(usage, PRICES)
    # THEN each line is its meter times its price per million, and duration is GB-seconds at the GB-second price
    assert cost["dynamodb_writes"] == pytest.approx(1.1 * 0.625)
    assert cost["dynamodb_reads"] == pytest.approx(0.5 * 0.125)
    assert cost["sqs"] == pytest.approx(0.3 * 0.40)
    assert cost["lambda_requests"] == pytest.approx(0.01 * 0.20)
    assert cost["lambda_duration"] == pytest.approx(0.02 * 0.25 * 0.0000166667 * 1e6, rel=1e-3)
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"), abs=1e-3)
    assert usage.lambda_seconds == {"SendPushes": 0.02}
