"""Events files (API.md §4): every problem named with its line and field, or the events as written."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.event_reminders import parse_events, plan_ladders
from qunyun.domain.groups import Group
from qunyun_ops.cli.yamlfile import read_yaml

GOOD = """\
events:
  - id: live-1129
    title: 周六直播：冬季护肤
    starts_at: 2026-11-29T20:00:00+08:00
    link: https://example.com/live
    groups: {ids: [g1], kinds: [learning], tags: [vip]}
"""


def lines_of(text: str):
    """The file as `qunyun events add` reads it: the data, and where each key is."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "events.yaml"
        path.write_text(text, encoding="utf-8")
        return read_yaml(path)


def test_a_good_file_parses_with_its_offset():
    data, line_of = lines_of(GOOD)
    [event] = parse_events(data, "events.yaml", line_of)
    assert event.starts_at == datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert (event.groups.ids, event.groups.tags) == (["g1"], ["vip"])


@pytest.mark.parametrize(("change", "expected"), [
    (("starts_at: 2026-11-29T20:00:00+08:00", "starts_at: 2026-11-29T20:00:00"),
     "line 4, events[0].starts_at: starts_at '2026-11-29T20:00:00': give the offset"),
    (("starts_at: 2026-11-29T20:00:00+08:00", "starts_at: 2026-11-31T20:00:00+08:00"),
     "line 4, events[0].starts_at: starts_at '2026-11-31T20:00:00+08:00': write an ISO 8601 time"),
    (("kinds: [learning]", "kinds: [lerning]"), "events[0].groups.kinds[0]"),
    (("groups: {ids: [g1], kinds: [learning], tags: [vip]}", "groups: {}"),
     "line 6, events[0].groups: name at least one group id, kind or tag"),
    (("link: https://example.com/live", "link: javascript:alert(1)"),
     "line 5, events[0].link: a link starts with https:// or http://"),
    (("    title: 周六直播：冬季护肤\n", "    titel: x\n"), "events[0].title: missing"),
])
def test_each_problem_is_named_with_its_place(change, expected):
    data, line_of = lines_of(GOOD.replace(*change))
    with pytest.raises(InvalidRequest) as e:
        parse_events(data, "events.yaml", line_of)
    assert expected in e.value.message and e.value.message.endswith("Nothing was changed.")


def test_an_id_twice_in_one_file_is_refused():
    twice = yaml.safe_load(GOOD + GOOD.removeprefix("events:\n"))
    with pytest.raises(InvalidRequest, match="live-1129 repeated"):
        parse_events(twice)


def test_targets_match_any_of_ids_kinds_and_tags_and_only_active_groups():
    now = datetime(2026, 11, 20, tzinfo=UTC)
    [event] = parse_events(yaml.safe_load(GOOD))

    def group(gid: str, kind: str = "other", tags=(), status: str = "active") -> Group:
        return Group(tenant_id="t", group_id=gid, name=gid, kind=kind, channel="outbox", tags=list(tags),
                     status=status, created_at=now, updated_at=now)

    groups = [group("g1"), group("l", "learning"), group("v", tags=["vip"]), group("x"),
              group("ended", "learning", status="ended")]
    ladders = plan_ladders(event, groups, "Asia/Shanghai", ["eve@20:00", "12h", "1h"], "22:00-08:00", now)
    assert [g.group_id for g in ladders] == ["g1", "l", "v"]
    assert [r["lead"] for r in ladders[0].rungs] == ["eve", "12h", "1h"]
