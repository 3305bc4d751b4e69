"""The console's SVG charts and its rollup charts, from data: GIVEN series of days WHEN drawn THEN the SVG is well
formed, every known value is a point at its place with its figure as a tooltip, gaps stay gaps, labels are escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from qunyun.domain.charts import HEIGHT, LEFT, TOP, Series, line_chart
from qunyun.services.console_rollups import CHARTS, MetricsRollups, group_charts, window_end

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [f"2026-11-{d:02d}" for d in range(1, 6)]


def test_a_line_chart_puts_each_value_at_its_place_with_a_tooltip():
    svg = ET.fromstring(line_chart(DAYS, [Series("members", [10, 20, 40, 30, 0])], title="成员数"))
    points = svg.findall(f"{SVG}circle")
    assert [p.find(f"{SVG}title").text for p in points] == [
        "2026-11-01 members: 10", "2026-11-02 members: 20", "2026-11-03 members: 40", "2026-11-04 members: 30",
        "2026-11-05 members: 0"]
    ys = [float(p.get("cy")) for p in points]
    bottom = HEIGHT - 28
    assert ys[2] == TOP and ys[4] == bottom  # the largest value at the top, zero on the axis
    assert ys[0] > ys[1] > ys[2] and abs((bottom - ys[1]) - 2 * (bottom - ys[0])) < 0.2
    xs = [float(p.get("cx")) for p in points]
    assert xs[0] == LEFT and xs == sorted(xs)
    assert svg.find(f"{SVG}title").text == "成员数"


def test_gaps_split_the_line_and_rates_read_as_percentages():
    svg = ET.fromstring(line_chart(DAYS, [Series("active", [0.1, 0.25, None, 0.2, 0.3])], title="r", percent=True))
    assert len(svg.findall(f"{SVG}polyline")) == 2
    assert [c.find(f"{SVG}title").text.split(": ")[1] for c in svg.findall(f"{SVG}circle")] == [
        "10%", "25%", "20%", "30%"]
    assert {"30%", "15%", "0%"} <= {t.text for t in svg.findall(f"{SVG}text")}


def test_labels_are_escaped_and_two_series_get_a_legend():
    svg = line_chart(DAYS, [Series("<b>joins</b>", [1, 2, 3, 4, 5]), Series("leaves", [0, 1, 0, 1, 0])],
                     title='<script>alert("x")</script>')
    assert "<script>" not in svg and "<b>" not in svg
    tree = ET.fromstring(svg)
    assert len(tree.findall(f"{SVG}polyline")) == 2
    assert [t.text for t in tree.findall(f"{SVG}text") if t.get("class") == "legend"] == [
        "<b>joins</b>", "leaves"]
    assert [r.get("fill") for r in tree.findall(f"{SVG}rect")] == ["rgb(37,99,235)", "rgb(220,38,38)"]


def test_the_group_charts_come_from_the_rollup_days():
    days = [{"date": d, "members": 200 + i, "joins": i, "leaves": 1, "active_rate": 0.1 * i, "messages": 30 * i,
             "checkins": 5 + i} for i, d in enumerate(DAYS)]
    charts = group_charts(days, lambda key: key.upper())
    assert [c["title"] for c in charts] == [title.upper() for title, *_ in CHARTS]
    members = ET.fromstring(charts[0]["svg"])
    assert [c.find(f"{SVG}title").text for c in members.findall(f"{SVG}circle")][-1] == "2026-11-05 MEMBERS: 204"
    joins = ET.fromstring(charts[1]["svg"])
    assert len(joins.findall(f"{SVG}polyline")) == 2 and len(joins.findall(f"{SVG}circle")) == 10
    rate = ET.fromstring(charts[2]["svg"])
    assert rate.findall(f"{SVG}circle")[-1].find(f"{SVG}title").text.endswith(": 40%")


class _Days:
    """Closed days in memory, through the same port MetricsStore gives (services/metrics.py MetricsReads)."""

    def __init__(self, closed, rows):
        self.closed, self.rows = closed, rows  # rows: {(group_id, day): (GroupLabel, DayFigures)}

    def closed_through(self, tenant_id):
        return self.closed if tenant_id == "t" else None

    def group_days(self, tenant_id, group_id, start, end):
        return {d: f for (g, d), (_, f) in self.rows.items() if g == group_id and start <= d <= end}

    def groups_on(self, tenant_id, day):
        return [(label, f) for (_, d), (label, f) in self.rows.items() if d == day]

    def scope_days(self, tenant_id, scope, start, end):
        return {}


def test_the_rollups_read_the_closed_days_and_nothing_after_them():
    from datetime import date

    from qunyun.domain.metrics import DayFigures, GroupLabel

    label = GroupLabel("g", "茶友群", "traffic")
    rows = {("g", date(2026, 11, d)): (label, DayFigures(members=200, active_members=20 * d, leaves=d,
                                                           messages=d))
            for d in range(1, 6)}
    rollups = MetricsRollups(_Days(date(2026, 11, 4), rows))
    days = rollups.group_days("t", "g", date(2026, 11, 1), date(2026, 11, 30))
    assert [d["date"] for d in days] == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    assert [d["active_rate"] for d in days] == [0.1, 0.2, 0.3, 0.4] and [d["messages"] for d in days] == [1, 2, 3, 4]
    [row] = rollups.group_table("t", date(2026, 11, 1), date(2026, 11, 30))
    assert row["group_id"] == "g" and row["active_rate"] == 200 / 800 and row["days"] == 4
    assert row["leave_rate"] == round(10 / 210, 4)  # the window's 1+2+3+4 leaves of the 210 who were members
    assert rollups.group_days("other", "g", date(2026, 11, 1), date(2026, 11, 30)) == []
    assert rollups.group_table("other", date(2026, 11, 1), date(2026, 11, 30)) == []


def test_a_count_chart_s_ticks_are_whole_numbers():
    svg = ET.fromstring(line_chart(DAYS[:2], [Series("members", [5, 17])], title="成员数"))
    assert [t.text for t in svg.findall(f"{SVG}text") if t.get("class") == "tick"][:3] == ["18", "9", "0"]


def test_the_window_ends_yesterday_or_today_once_today_is_closed():
    from datetime import date

    today = date(2026, 12, 5)
    assert window_end(today, None) == date(2026, 12, 4)  # nothing closed yet
    assert window_end(today, date(2026, 12, 1)) == date(2026, 12, 4)  # runs stopped: the days after are empty
    assert window_end(today, date(2026, 12, 4)) == date(2026, 12, 4)  # the hourly run after midnight
    assert window_end(today, today) == today  # closed ahead of its end, as the demo does
    assert MetricsRollups(_Days(date(2026, 11, 4), {})).last_closed("t") == date(2026, 11, 4)
