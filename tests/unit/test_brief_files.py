"""Brief files: every error named by its place and line, the API.md example accepted, sections aimed by kind/tag."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from qunyun.domain.briefs import Brief, InvalidBriefFile, parse_brief
from qunyun.domain.errors import InvalidRequest
from qunyun.domain.groups import Group
from qunyun_ops.cli.yamlfile import read_yaml

NOW = datetime(2026, 11, 24, tzinfo=UTC)

GOOD = """\
date: 2026-11-25
edition: morning                 # morning | evening
title: 早安 · 11月25日
sections:
  - kind: news                   # news | tip | product | event | checkin | quiz | text
    title: 今日要闻
    text: ...
    link: https://example.com/a  # optional
    for: {kinds: [welfare], tags: [vip]}   # optional: only these groups
  - kind: product
    name: 金骏眉礼盒
    price: 199
    coupon: 满199减30
    link: https://example.com/p
  - kind: event
    title: 周六直播
    time: 2026-11-29T20:00:00+08:00
  - kind: checkin
    link: https://example.com/checkin
  - kind: text
    text: 门店群专享
    for: {kinds: [store]}
"""

BAD = """\
date: 2026-11-31
edition: noon
sections:
  - kind: news
    items:
      - title: 新品
        link: javascript:alert(1)
  - kind: tip
    text: 多喝热水
    colour: red
  - kind: product
    name: 茶
    link: https://example.com/has space
  - kind: event
    title: 直播
    time: 2026-11-29T20:00:00
  - kind: quiz
    link: https://example.com/q
  - kind: poem
    text: 床前明月光
  - kind: checkin
    link: https://example.com/c
    for: {}
"""


def load(tmp_path: Path, text: str) -> Brief:
    path = tmp_path / "brief.yaml"
    path.write_text(text, encoding="utf-8")
    data, line_of = read_yaml(path)
    return parse_brief(data, str(path), line_of)


def group(kind: str = "other", tags: tuple[str, ...] = (), group_id: str = "g1") -> Group:
    return Group(tenant_id="t", group_id=group_id, name="G", kind=kind, channel="outbox", tags=list(tags),
                 created_at=NOW, updated_at=NOW)


def test_the_api_example_with_every_kind_is_accepted(tmp_path):
    # GIVEN the brief file of API.md §4, extended with a product, an event, a check-in and a note
    brief = load(tmp_path, GOOD)
    # THEN it is read as written: a number as price is kept as text, the event keeps its offset
    assert (str(brief.date), brief.edition, brief.title) == ("2026-11-25", "morning", "早安 · 11月25日")
    assert [s.kind for s in brief.sections] == ["news", "product", "event", "checkin", "text"]
    assert brief.sections[1].price == "199" and brief.sections[2].time.utcoffset().total_seconds() == 8 * 3600
    # AND what is stored reads back as the same brief
    assert Brief.model_validate(brief.stored()) == brief


def test_every_error_is_named_with_its_place_and_line(tmp_path):
    # GIVEN a file with one mistake in almost every section
    # WHEN it is checked
    with pytest.raises(InvalidBriefFile) as caught:
        load(tmp_path, BAD)
    # THEN every problem is reported at once, each with its place in the file and its line
    errors = {e["field"]: (e["line"], e["message"]) for e in caught.value.details["errors"]}
    assert errors["date"][0] == 1
    assert errors["edition"] == (2, "expected morning or evening")
    assert errors["sections[0].items[0].link"][0] == 7 and "http(s) URL" in errors["sections[0].items[0].link"][1]
    assert errors["sections[1].colour"][0] == 10 and "unknown key" in errors["sections[1].colour"][1]
    assert errors["sections[2].link"][0] == 13
    assert errors["sections[3].time"] == (16, "needs a UTC offset, e.g. 2026-11-29T20:00:00+08:00")
    # a missing key is placed at the line of its section
    assert errors["sections[4].question"] == (17, "missing; this key is required here")
    assert errors["sections[5].kind"][0] == 19 and "news, tip, product" in errors["sections[5].kind"][1]
    assert errors["sections[6].for"][0] == 23 and "ids, kinds or tags" in errors["sections[6].for"][1]
    assert len(errors) == 9
    assert "nothing was stored" in caught.value.message and "brief.yaml" in caught.value.message


@pytest.mark.parametrize("text, words", [
    ("date: 2026-11-25\nedition: morning\nsections: [\n", "line 4"),
    ("- a list\n", "mapping"),
    ("date: 2026-11-25\nedition: morning\nsections: []\n", "sections"),
    ("date: 2026-11-25\nedition: morning\nsections:\n  - {kind: tip, text: '  '}\n", "must not be empty"),
    ("date: 2026-11-25\nedition: morning\nsections:\n  - {kind: tip, text: a, title: \"x\\ny\"}\n", "one line"),
])
def test_files_that_are_not_briefs(tmp_path, text, words):
    with pytest.raises(InvalidRequest) as caught:
        load(tmp_path, text)
    found = caught.value.message + " ".join(f"{e['field']} {e['message']}" for e in
                                            caught.value.details.get("errors", []))
    assert words in found


def test_sections_reach_groups_by_kind_tag_or_id(tmp_path):
    # GIVEN a brief with a section for welfare groups or vip-tagged groups, one for store groups, one for all
    brief = load(tmp_path, GOOD)

    def kinds(g: Group) -> list[str]:
        return [s.kind for s in brief.for_group(g)]

    # THEN each group sees only what is aimed at it, in the file's order
    assert kinds(group("welfare")) == ["news", "product", "event", "checkin"]
    assert kinds(group("learning", tags=("vip", "north"))) == ["news", "product", "event", "checkin"]
    assert kinds(group("store")) == ["product", "event", "checkin", "text"]
    assert kinds(group("traffic", tags=("north",))) == ["product", "event", "checkin"]
    # AND a section may name groups by id
    by_id = parse_brief({"date": "2026-11-25", "edition": "evening", "sections": [
        {"kind": "tip", "text": "only g2", "for": {"ids": ["g2"]}}]})
    assert by_id.for_group(group(group_id="g2")) and not by_id.for_group(group(group_id="g1"))


def test_the_documented_example_is_the_demo_file_and_it_is_valid():
    # GIVEN docs/briefs.md and the demo brief it says it shows
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "briefs.md").read_text(encoding="utf-8")
    demo = root / "infra" / "demo" / "brief.yaml"
    documented = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    # THEN the documented file parses to the same brief as the demo file
    data, line_of = read_yaml(demo)
    assert parse_brief(data, str(demo), line_of).stored() == parse_brief(yaml.safe_load(documented)).stored()
