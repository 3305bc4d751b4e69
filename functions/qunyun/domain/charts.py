"""Charts as SVG text, drawn on the server: no script, no library, no network. One chart is one or more series
of values over the same days; a missing value (None) leaves a gap. Labels are escaped here; the caller marks
the result safe for its page."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 28
AXIS, GRID = "rgb(148,163,184)", "rgb(226,232,240)"
COLOURS = ("rgb(37,99,235)", "rgb(220,38,38)", "rgb(22,163,74)", "rgb(202,138,4)")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def _scale(series: Sequence[Series], percent: bool) -> float:
    top = max((v for s in series for v in s.values if v is not None), default=0.0)
    if percent:
        return max(top, 0.01)
    # Counts are whole: an even top keeps the half-way tick whole too (9 members, not 8.5).
    return float(max(2, math.ceil(top / 2) * 2))


def line_chart(days: Sequence[str], series: Sequence[Series], *, title: str, percent: bool = False) -> str:
    """A line per series over `days` (ISO dates), the y axis from 0 to the largest value; each point carries
    its day and value as a tooltip, so the figures stay readable without a pointer."""
    top = _scale(series, percent)
    legend = 16 if len(series) > 1 else 0  # a row above the plot names the series
    plot_top = TOP + legend
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - plot_top - BOTTOM
    mid = plot_top + plot_h / 2
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: float) -> float:
        return plot_top + plot_h - (v / top) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{LEFT}" y1="{plot_top + plot_h}" x2="{WIDTH - RIGHT}" y2="{plot_top + plot_h}" '
             f'stroke="{AXIS}"/>',
             f'<line x1="{LEFT}" y1="{plot_top}" x2="{LEFT}" y2="{plot_top + plot_h}" stroke="{AXIS}"/>',
             f'<line x1="{LEFT}" y1="{mid:.1f}" x2="{WIDTH - RIGHT}" y2="{mid:.1f}" stroke="{GRID}" '
             f'stroke-dasharray="3,3"/>',
             f'<text x="{LEFT - 6}" y="{plot_top + 4}" text-anchor="end" class="tick">{_fmt(top, percent)}</text>',
             f'<text x="{LEFT - 6}" y="{mid + 4:.1f}" text-anchor="end" class="tick">'
             f'{_fmt(top / 2, percent)}</text>',
             f'<text x="{LEFT - 6}" y="{plot_top + plot_h}" text-anchor="end" class="tick">{_fmt(0, percent)}</text>']
    if days:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 8}" class="tick">{escape(days[0])}</text>')
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" class="tick">'
                     f'{escape(days[-1])}</text>')
    for n, s in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        parts += _line(s, colour, x, y)
        parts += _points(s, days, colour, x, y, percent)
    if legend:
        for n, s in enumerate(series):
            parts += [f'<rect x="{LEFT + 110 * n}" y="{TOP - 8}" width="10" height="10" '
                      f'fill="{COLOURS[n % len(COLOURS)]}"/>',
                      f'<text x="{LEFT + 14 + 110 * n}" y="{TOP + 1}" class="legend">{escape(s.name)}</text>']
    parts.append("</svg>")
    return "".join(parts)


def _line(s: Series, colour: str, x, y) -> list[str]:
    """One polyline per run of known values: a gap stays a gap."""
    runs, run = [], []
    for i, v in enumerate(s.values):
        if v is None:
            runs, run = runs + [run] if run else runs, []
            continue
        run.append(f"{x(i):.1f},{y(v):.1f}")
    runs += [run] if run else []
    return [f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(r)}"/>'
            for r in runs if len(r) > 1]


def _points(s: Series, days: Sequence[str], colour: str, x, y, percent: bool) -> list[str]:
    return [f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"><title>{escape(days[i])} '
            f'{escape(s.name)}: {_fmt(v, percent)}</title></circle>'
            for i, v in enumerate(s.values) if v is not None and i < len(days)]
