"""The judging half of every benchmark: sizes, interleaved floors, ratios, targets, checks and the cost.

Pure logic (no DynamoDB, no qunyun), so tests/unit can hold it to its arithmetic. A benchmark measures;
this module says what its figures mean: each check is one row of `make bench`'s summary table.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

# `make bench QUICK=1`: every benchmark at a tenth of its size, for a quick look while working.
QUICK = os.environ.get("QUICK", "") not in ("", "0")


def scaled(n: int, least: int = 1) -> int:
    """A benchmark's default size, a tenth of it under QUICK (never below `least`)."""
    return max(least, n // 10) if QUICK else n


def interleaved(floor: Callable[[int], float], paths: Sequence[Callable[[], float]]) -> tuple[list, list]:
    """floor, path, floor, path, ..., floor: each path run sits between two floor runs, so a floor that moves
    during the run (DynamoDB Local's rate wanders 30-50% on a shared machine) moves both of a path's ratios.
    `floor(k)` gets its sample's number (for keys of their own); returns (floor samples, path samples)."""
    floors, results = [floor(0)], []
    for k, path in enumerate(paths, 1):
        results.append(path())
        floors.append(floor(k))
    return floors, results


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    samples: tuple[float, ...]

    def text(self, digits: int = 3) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def spread(values: Sequence[float]) -> Spread:
    return Spread(statistics.median(values), min(values), max(values), tuple(round(v, 4) for v in values))


def ratios(floors: Sequence[float], paths: Sequence[float]) -> Spread:
    """Each path sample over each of the two floor samples taken either side of it (path i between floors i
    and i+1): the median of those ratios and their spread. Rates give path/floor (higher is better), times
    give path time/floor time (lower is better): the caller passes like for like."""
    assert len(floors) == len(paths) + 1, "a floor before, between and after the path runs"
    return spread([p / f for i, p in enumerate(paths) for f in (floors[i], floors[i + 1])])


@dataclass(frozen=True)
class Target:
    """What a figure must be: at least or at most a bound (of the figure itself, or of its ratio to the floor)."""

    at_least: float | None = None
    at_most: float | None = None

    def met(self, value: float) -> bool:
        return (self.at_least is None or value >= self.at_least) and (self.at_most is None or value <= self.at_most)

    def text(self) -> str:
        return " and ".join(t for t in (self.at_least is not None and f">= {self.at_least:g}",
                                        self.at_most is not None and f"<= {self.at_most:g}") if t)


@dataclass
class Check:
    """One row of the summary: a figure, its floor and ratio when it has one, and the target it is held to
    (on the ratio when there is a floor, else on the figure)."""

    benchmark: str
    figure: str
    value: float
    unit: str
    target: str
    met: bool
    floor: float | None = None
    ratio: dict | None = None  # {"median", "low", "high", "samples"}

    @classmethod
    def of_figure(cls, benchmark: str, figure: str, value: float, unit: str, target: Target) -> Check:
        return cls(benchmark, figure, round(value, 4), unit, target.text(), target.met(value))

    @classmethod
    def of_ratio(cls, benchmark: str, figure: str, value: float, unit: str, floor: float, ratio: Spread,
                 target: Target) -> Check:
        """Held to the median ratio; `value` and `floor` are the medians of the path's and the floor's samples."""
        return cls(benchmark, figure, round(value, 4), unit, f"ratio {target.text()}", target.met(ratio.median),
                   round(floor, 4), asdict(ratio))


def missed(checks: Sequence[Check]) -> list[str]:
    return [f"{c.benchmark}: {c.figure} ({c.target})" for c in checks if not c.met]


def _number(x: float | None) -> str:
    return "-" if x is None else f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def table(checks: Sequence[Check]) -> str:
    """The summary: benchmark, figure, floor, ratio (median, low-high), target, met."""
    rows = [("benchmark", "figure", "value", "floor", "ratio (min-max)", "target", "met")]
    for c in checks:
        ratio = "-" if c.ratio is None else Spread(**{**c.ratio, "samples": ()}).text()
        rows.append((c.benchmark, c.figure, f"{_number(c.value)} {c.unit}".strip(), _number(c.floor), ratio,
                     c.target, "yes" if c.met else "NO"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


# ---- the cost ---------------------------------------------------------------------------------------

@dataclass
class Usage:
    """What one unit of work (a brief, a points event, a redemption) used, as measured. Lambda time is the
    handler's measured wall time; `lambda_gb_seconds` is filled by `add_lambda` at the template's memory."""

    write_units: float = 0.0
    read_units: float = 0.0
    sqs_requests: float = 0.0
    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0
    api_requests: float = 0.0
    lambda_seconds: dict = field(default_factory=dict)  # function → handler seconds per unit

    def add_lambda(self, function: str, seconds: float, memory_mb: int, invocations: float) -> Usage:
        self.lambda_seconds[function] = round(self.lambda_seconds.get(function, 0.0) + seconds, 6)
        self.lambda_gb_seconds += seconds * memory_mb / 1024
        self.lambda_requests += invocations
        return self


def cost_per_million(usage: Usage, prices: dict[str, float]) -> dict[str, float]:
    """USD per million units of work, by line and in total, at `prices` (USD per million of each meter, and
    per GB-second for Lambda's duration)."""
    lines = {
        "dynamodb_writes": usage.write_units * prices["dynamodb_write_request_units"],
        "dynamodb_reads": usage.read_units * prices["dynamodb_read_request_units"],
        "sqs": usage.sqs_requests * prices["sqs_requests"],
        "lambda_requests": usage.lambda_requests * prices["lambda_requests"],
        "lambda_duration": usage.lambda_gb_seconds * prices["lambda_gb_second"] * 1_000_000,
        "api_gateway": usage.api_requests * prices["http_api_requests"],
    }
    return {**{k: round(v, 4) for k, v in lines.items()}, "total": round(sum(lines.values()), 4)}
