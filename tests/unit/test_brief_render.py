"""Rendering briefs: each dialect's markup, member and operator text made inert, tenants' templates sandboxed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from qunyun.adapters.render import render
from qunyun.channels.feishu_bot import post_content
from qunyun.domain.briefs import DIALECT_NAMES, BriefRenderError, compose, parse_brief
from qunyun.domain.groups import Group

NOW = datetime(2026, 11, 24, tzinfo=UTC)
HOSTILE = ["<@all>", "@all", '<at user_id="all">', "<!channel>", "<!here>", "<@U024BE7LH>", "[x](http://evil)",
           "<b>x</b>", "@13800138000"]
LINK = "https://example.com/a(1)?x=1&y=2"

BRIEF = parse_brief({"date": "2026-11-25", "edition": "morning", "title": "早安", "sections": [
    {"kind": "news", "title": "今日要闻", "items": [{"title": "新品", "link": LINK, "summary": "三款"}]},
    {"kind": "tip", "text": "泡茶 80°C"},
    {"kind": "product", "name": "礼盒", "price": "¥199", "coupon": "满199减30", "link": "https://example.com/p"},
    {"kind": "event", "title": "直播", "time": "2026-11-29T20:00:00+08:00", "link": "https://example.com/live"},
    {"kind": "checkin", "link": "https://example.com/checkin"},
    {"kind": "quiz", "question": "乌龙茶属于哪类茶？", "link": "https://example.com/quiz"},
]})
BOARD = {"day": date(2026, 11, 24), "active": 12,
         "top": [{"rank": 1, "name": "小美", "points": 30}, {"rank": 2, "name": "阿强", "points": 20}]}


def group(name: str = "茶友群", tags: tuple[str, ...] = ()) -> Group:
    return Group(tenant_id="t", group_id="g1", name=name, kind="welfare", channel="outbox", tags=list(tags),
                 created_at=NOW, updated_at=NOW)


def context(brief=BRIEF, board=BOARD, name="茶友群", locale="zh-CN", timezone="Asia/Shanghai") -> dict:
    return compose(brief, group(name), timezone, locale, board)


def visible(dialect: str, text: str) -> str:
    """What members read: the texts of the Feishu post the feishu_bot channel makes; other dialects' text."""
    if dialect != "feishu_post":
        return text
    (body,) = post_content("title", text)["post"].values()
    return "\n".join(" ".join(e["text"] for e in line) for line in body["content"])


@pytest.mark.parametrize("edition", ["morning", "evening"])
@pytest.mark.parametrize("dialect, link, bold", [
    ("wecom_markdown", "[新品](https://example.com/a%281%29?x=1&y=2)", "**今日要闻**"),
    ("dingtalk_markdown", "[新品](https://example.com/a%281%29?x=1&y=2)", "#### 今日要闻"),
    ("slack_mrkdwn", "<https://example.com/a%281%29?x=1&amp;y=2|新品>", "*今日要闻*"),
    ("telegram_html", '<a href="https://example.com/a%281%29?x=1&amp;y=2">新品</a>', "<b>今日要闻</b>"),
    ("text", "https://example.com/a(1)?x=1&y=2", "【今日要闻】"),
    ("feishu_post", "[新品](https://example.com/a%281%29?x=1&y=2)", "【今日要闻】"),
])
def test_each_dialect_writes_its_own_markup(dialect, link, bold, edition):
    # GIVEN a brief with every kind of section and yesterday's board
    brief = BRIEF.model_copy(update={"edition": edition})
    # WHEN it is rendered for a group in each dialect
    text = render(dialect, edition, context(brief))
    # THEN links, headings, the group's name and date, the event in the group's time and the board are there
    assert link in text and bold in text
    for words in ("茶友群", "11月25日 星期三", "11月29日 20:00", "满199减30", "乌龙茶属于哪类茶？", "昨日积分榜",
                  "1. 小美", "30分", "昨日 12 位群友获得积分"):
        assert words in text, words
    closing = "祝大家今天顺利！" if edition == "morning" else "晚安，明天见！"
    assert text.endswith(closing)
    # AND the morning opens with yesterday's board, the evening closes with it
    assert (text.index("昨日积分榜") < text.index("今日要闻")) == (edition == "morning")


def test_feishu_lines_become_a_post_with_link_elements():
    # GIVEN an evening brief in English rendered for a Feishu group
    text = render("feishu_post", "evening", context(BRIEF.model_copy(update={"edition": "evening"}), locale="en"))
    # WHEN the feishu_bot channel turns the lines into a post
    (body,) = post_content("早安", text)["post"].values()
    elements = [e for line in body["content"] for e in line]
    # THEN links are link elements (their URLs encoded), every other line is text
    assert {"tag": "a", "text": "新品", "href": "https://example.com/a%281%29?x=1&y=2"} in elements
    assert {"tag": "text", "text": "【Tonight's quiz】"} in elements
    assert body["content"][0] == [{"tag": "text", "text": "茶友群 · Wed 25 Nov"}]
    assert all(e["tag"] == "text" for e in elements if "http" not in e.get("href", "http"))


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_member_and_operator_text_arrives_inert(dialect, hostile):
    # GIVEN a nickname, a group name and the operator's own texts carrying a mention, markup or a link
    brief = parse_brief({"date": "2026-11-25", "edition": "morning", "title": f"早安 {hostile}", "sections": [
        {"kind": "tip", "title": hostile, "text": f"多喝热水 {hostile}"},
        {"kind": "product", "name": hostile, "price": hostile, "link": "https://example.com/p"},
        {"kind": "news", "items": [{"title": hostile, "link": LINK, "summary": hostile}]}]})
    board = {"day": date(2026, 11, 24), "active": 1, "top": [{"rank": 1, "name": f"小美{hostile}", "points": 9}]}
    # WHEN the brief is rendered in each dialect
    text = render(dialect, "morning", context(brief, board, name=f"群{hostile}"))
    # THEN none of it reaches the platform as a mention, markup or link; members still read the words
    assert hostile not in visible(dialect, text)
    assert "小美" in visible(dialect, text) and "多喝热水" in visible(dialect, text)
    if dialect == "telegram_html":
        assert text.count("<b>") == text.count("</b>")
    if dialect == "feishu_post":
        (body,) = post_content("t", text)["post"].values()
        assert all(e["href"].startswith("https://example.com/") for line in body["content"] for e in line
                   if e["tag"] == "a")
    if dialect in ("wecom_markdown", "dingtalk_markdown"):
        assert "](http://evil" not in text and "<" not in text


def test_without_points_the_board_is_absent_cleanly():
    for dialect in DIALECT_NAMES:
        text = render(dialect, "morning", context(board=None))
        assert "昨日积分榜" not in visible(dialect, text) and "积分" not in visible(dialect, text).split("今日打卡")[0]
        assert "\n\n\n" not in text


def test_a_tenant_template_runs_in_the_sandbox_with_the_same_escaping():
    # GIVEN a tenant's own template that reuses a shipped part
    own = ("{{ brief.title }} for {{ group.name }}\n{% for s in sections %}- {{ s.kind }}{% if s.link %} "
           "{{ s.link | href }}{% endif %}\n{% endfor %}{% include 'briefs/text/_board.j2' %}")
    # WHEN it renders a group whose name mentions everyone
    text = render("text", "morning", context(name="<@all> 群"), own)
    # THEN it renders, and the group's name is as inert as in the shipped templates
    assert text.startswith("早安 for ＜＠all＞ 群") and "- checkin https://example.com/checkin" in text
    assert "1. 小美 · 30分" in text


@pytest.mark.parametrize("source, reason", [
    ("{{ ''.__class__.__mro__ }}", "SecurityError"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "SecurityError"),
    ("{{ group.name.format.__globals__ }}", "SecurityError"),
    ("{% for s in sections %}{{ s.nope }}{% endfor %}", "UndefinedError"),
    ("Hello {{ member }}", "'member' is undefined"),
    ("{% if %}", "TemplateSyntaxError"),
    ("{{ sections.append(1) }}", "SecurityError"),
    ("{% include 'briefs/../../../etc/passwd' %}", "TemplateNotFound"),
])
def test_unsafe_or_broken_tenant_templates_fail_with_the_reason(source, reason):
    with pytest.raises(BriefRenderError) as caught:
        render("text", "morning", context(), source)
    assert reason in caught.value.reason and caught.value.code == "brief_render_failed"


def test_a_thousand_briefs_render_from_compiled_templates():
    # GIVEN compiled templates (the first render compiles them)
    for dialect in DIALECT_NAMES:
        render(dialect, "morning", context())
    # WHEN a thousand groups' briefs are rendered, each with its own name and board
    texts = [render(DIALECT_NAMES[i % len(DIALECT_NAMES)], "morning",
                    context(name=f"群{i}", board={**BOARD, "active": i + 1})) for i in range(1000)]
    # THEN each is its group's
    assert len(set(texts)) == 1000 and all(f"群{i}" in visible(DIALECT_NAMES[i % 6], t) for i, t in enumerate(texts))


def test_the_documented_tenant_template_renders():
    # GIVEN the example of a tenant's own template in docs/briefs.md
    doc = (Path(__file__).resolve().parents[2] / "docs" / "briefs.md").read_text(encoding="utf-8")
    source = doc.split("```jinja\n", 1)[1].split("```")[0]
    # WHEN it renders in the sandbox
    text = render("text", "morning", context(), source)
    # THEN it shows the brief, its sections and the shipped board
    assert text.startswith("早安 · 茶友群") and "小贴士 泡茶 80°C" in text and "1. 小美 · 30分" in text


def test_an_oversized_tenant_template_is_refused_once_with_its_reason():
    with pytest.raises(BriefRenderError) as caught:
        render("text", "morning", context(), "x" * 30_000)
    assert caught.value.reason == "the template is over 20 KB"
