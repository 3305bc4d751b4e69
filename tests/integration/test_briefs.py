"""Briefs on DynamoDB Local: add and replace, yesterday's top three from real check-ins, tenants' templates,
one group's failure carrying its group id, and exactly what `briefs preview` prints for a group."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from qunyun.adapters.content import ContentRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.briefs import BriefRenderError, parse_brief
from qunyun.domain.errors import InvalidRequest, NotFound
from qunyun.domain.events import PointsEvent
from qunyun.services.briefs import add_brief, preview, render_brief, set_template
from qunyun.services.groups import import_groups
from qunyun.services.points import apply_event
from stream_support import deliver_streams
from support_stack import Stack

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date()
TOMORROW = TODAY + timedelta(days=1)
HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
GROUPS = "\n".join([
    HEADER,
    "tea-vip,VIP 茶友群,welfare,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1,,,,,,,vip,,,",
    "tea-store,门店群 <@all>,store,telegram_bot,,BOT-TOKEN,,-100123,Asia/Tokyo,,-,,,,",
    "tea-out,外部群,traffic,outbox,,,,,,,,,,,",
])


def brief_data(day=TOMORROW, edition="morning", **extra) -> dict:
    return {"date": str(day), "edition": edition, "title": "早安", "sections": [
        {"kind": "tip", "text": "人人可见"},
        {"kind": "product", "name": "VIP 礼盒", "price": "¥199", "link": "https://example.com/p",
         "for": {"tags": ["vip"]}},
        {"kind": "text", "text": "门店专享", "for": {"kinds": ["store"]}},
        {"kind": "checkin", "link": "https://example.com/checkin"}], **extra}


def repos() -> dict:
    return {"tenants": TenantRepository(), "groups": GroupRepository(), "content": ContentRepository(),
            "ledger": PointsLedger()}


@pytest.fixture
def shop(tenant):
    import_groups(tenant.tenant_id, GROUPS, tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    return TenantRepository().get(tenant.tenant_id)


def checkin(tenant, member: str, nickname: str, group_id: str = "tea-vip") -> None:
    event = PointsEvent(event_id=f"ci-{member}-{TODAY}", type="checkin", member_id=member, group_id=group_id,
                        occurred_at=NOW, nickname=nickname)
    apply_event(tenant, event, ledger=PointsLedger(), now=NOW)


def test_adding_the_same_date_and_edition_replaces_it(shop):
    content = ContentRepository()
    # GIVEN a brief added for tomorrow morning
    first = add_brief(shop, parse_brief(brief_data()), content=content, now=NOW)
    assert (first["status"], first["sections"], first["targeted"]) == ("added", 4, 2)
    # WHEN a new version of it is added, and the evening edition of the same date
    second = add_brief(shop, parse_brief(brief_data(title="早安！", sections=[{"kind": "tip", "text": "新"}])),
                       content=content, now=NOW)
    evening = add_brief(shop, parse_brief(brief_data(edition="evening")), content=content, now=NOW)
    # THEN the morning one is replaced and says so; the evening one is its own
    assert second["status"] == "replaced" and evening["status"] == "added"
    stored = content.brief(shop.tenant_id, TOMORROW, "morning")
    assert stored.title == "早安！" and [s.text for s in stored.sections] == ["新"]
    assert len(content.brief(shop.tenant_id, TOMORROW, "evening").sections) == 4


def test_each_group_sees_its_sections_in_its_dialect(shop):
    add_brief(shop, parse_brief(brief_data()), content=ContentRepository(), now=NOW)
    # WHEN each group's brief is previewed
    vip, store, out = (preview(shop.tenant_id, g, "morning", TOMORROW, now=NOW, **repos())
                       for g in ("tea-vip", "tea-store", "tea-out"))
    # THEN the vip group gets WeCom markdown with its product, the store group Telegram HTML with its note
    assert vip.dialect == "wecom_markdown" and "[VIP 礼盒](https://example.com/p)" in vip.text
    assert "门店专享" not in vip.text
    assert store.dialect == "telegram_html" and "门店专享" in store.text and "VIP 礼盒" not in store.text
    assert "门店群 &lt;＠all&gt;" in store.text
    assert out.dialect == "text" and "人人可见" in out.text and "VIP" not in out.text and "门店专享" not in out.text


def test_the_top_three_appear_once_there_are_points(shop):
    add_brief(shop, parse_brief(brief_data()), content=ContentRepository(), now=NOW)
    # GIVEN no points yet: the board is absent and nothing is left of it
    before = preview(shop.tenant_id, "tea-vip", "morning", TOMORROW, now=NOW, **repos())
    assert "昨日积分榜" not in before.text and "群友获得积分" not in before.text
    # WHEN four members check in today in the group (one with a hostile nickname), and one in another group
    for member, nick in [("u1", "<@all> 小美"), ("u2", "阿强"), ("u3", "[x](http://evil)"), ("u4", None)]:
        checkin(shop, member, nick)
    checkin(shop, "u9", "别群的人", group_id="tea-out")
    deliver_streams()  # the day's pages, as PageEarnings writes them a batching window later
    # THEN tomorrow's brief names yesterday's active members and a top three, nicknames made inert
    after = preview(shop.tenant_id, "tea-vip", "morning", TOMORROW, now=NOW, **repos())
    assert "昨日积分榜" in after.text and "昨日 4 位群友获得积分" in after.text
    assert "＜＠all＞ 小美" in after.text and "@all" not in after.text and "](http://evil" not in after.text
    assert after.text.count("1. ") == 3 and "别群的人" not in after.text and "u4***" not in after.text
    # AND a group whose members earned nothing still has no board
    assert "昨日积分榜" not in preview(shop.tenant_id, "tea-store", "morning", TOMORROW, now=NOW, **repos()).text


def test_a_tenant_template_is_tried_before_it_is_stored_and_then_used(shop):
    content = ContentRepository()
    add_brief(shop, parse_brief(brief_data()), content=content, now=NOW)
    # GIVEN templates that reach for Python internals, misspell a variable or do not parse
    for bad in ("{{ ''.__class__.__mro__ }}", "{{ group.nmae }}", "{% for %}"):
        with pytest.raises(InvalidRequest) as caught:
            set_template(shop, "morning", "text", bad, content=content, now=NOW)
        assert caught.value.code == "invalid_template"
    assert content.template(shop.tenant_id, "morning", "text") is None
    with pytest.raises(InvalidRequest):
        set_template(shop, "morning", "morse", "{{ group.name }}", content=content, now=NOW)
    # WHEN a good one is set for plain text
    set_template(shop, "morning", "text", "{{ group.name }}：{% for s in sections %}{{ s.text }}{% endfor %}",
                 content=content, now=NOW)
    # THEN the plain-text group receives it and the WeCom group still the shipped template
    assert preview(shop.tenant_id, "tea-out", "morning", TOMORROW, now=NOW, **repos()).text == "外部群：人人可见"
    assert preview(shop.tenant_id, "tea-vip", "morning", TOMORROW, now=NOW, **repos()).text.startswith("## 早安")
    assert content.remove_template(shop.tenant_id, "morning", "text") is True
    assert content.remove_template(shop.tenant_id, "morning", "text") is False


def test_a_failing_group_says_which_and_why(shop):
    # GIVEN a template that fails only on some briefs: it divides by the number of news sections, which the
    # sample it was tried on had and this brief has not
    brief = parse_brief(brief_data())
    group = GroupRepository().get(shop.tenant_id, "tea-out")
    # WHEN that group's brief is rendered
    with pytest.raises(BriefRenderError) as caught:
        render_brief(shop, group, brief, ledger=PointsLedger(), now=NOW,
                     template="{{ 1 // (sections | selectattr('kind', 'eq', 'news') | list | length) }}")
    # THEN the error carries the group and the reason, for the sender to record before going on
    assert caught.value.group_id == "tea-out" and "ZeroDivisionError" in caught.value.reason
    assert caught.value.body()["error"]["code"] == "brief_render_failed"


def test_preview_needs_a_brief_a_group_and_the_right_tenant(shop, make_tenant):
    with pytest.raises(NotFound) as caught:
        preview(shop.tenant_id, "tea-vip", "evening", TOMORROW, now=NOW, **repos())
    assert caught.value.code == "no_brief"
    add_brief(shop, parse_brief(brief_data()), content=ContentRepository(), now=NOW)
    other = make_tenant()
    with pytest.raises(NotFound) as caught:
        preview(other.tenant_id, "tea-vip", "morning", TOMORROW, now=NOW, **repos())
    assert caught.value.code == "unknown_group"
    with pytest.raises(InvalidRequest):
        preview(shop.tenant_id, "tea-vip", "noon", TOMORROW, now=NOW, **repos())


# ---- the operators' CLI against `qunyun local up` ------------------------------------------------------------

BRIEF_FILE = """\
date: {day}
edition: morning
title: 早安
sections:
  - kind: tip
    text: 泡绿茶水温 80°C 最佳
  - kind: product
    name: 金骏眉礼盒
    price: ¥199
    link: https://example.com/p
    for: {{tags: [vip]}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("briefs-state")).up("--no-schedule")
    assert stack.cli("tenants", "create", "tea", "--name", "Tea", "--local").returncode == 0
    groups = stack.state / "groups.csv"
    groups.write_text(GROUPS, encoding="utf-8")
    assert stack.cli("groups", "import", str(groups), "--tenant", "tea", "--local").returncode == 0
    yield stack
    stack.stop()


def test_cli_adds_replaces_refuses_and_previews(stack):
    path = stack.state / "brief.yaml"
    path.write_text(BRIEF_FILE.format(day=TOMORROW), encoding="utf-8")
    # GIVEN a brief added, then added again
    added = stack.cli("briefs", "add", str(path), "--tenant", "tea", "--local")
    again = stack.cli("briefs", "add", str(path), "--tenant", "tea", "--local", "--json")
    # THEN the second time says it replaced the first
    assert added.returncode == 0 and f"Brief {TOMORROW} morning of tea added: 2 section(s)" in added.stdout
    assert json.loads(again.stdout)["status"] == "replaced"
    # WHEN a file with errors in two places is added for another date
    bad = stack.state / "bad.yaml"
    bad.write_text(BRIEF_FILE.format(day=TODAY).replace("https://example.com/p", "ftp://example.com/p")
                   .replace("kind: tip", "kind: tip\n    colour: red"), encoding="utf-8")
    refused = stack.cli("briefs", "add", str(bad), "--tenant", "tea", "--local")
    # THEN each error is named with its line and place, and nothing is stored
    assert refused.returncode == 2 and "nothing was stored" in refused.stderr
    assert "line 6, sections[0].colour: unknown key" in refused.stderr
    assert "line 11, sections[1].link: expected an http(s) URL" in refused.stderr
    missing = stack.cli("briefs", "preview", "--group", "tea-vip", "--edition", "morning", "--date", str(TODAY),
                        "--tenant", "tea", "--local")
    assert missing.returncode != 0 and "no morning brief" in missing.stderr
    # WHEN the vip group's brief is previewed
    shown = stack.cli("briefs", "preview", "--group", "tea-vip", "--edition", "morning", "--date", str(TOMORROW),
                      "--tenant", "tea", "--local")
    # THEN stdout is exactly the WeCom markdown the group would receive, nothing else
    weekday = "一二三四五六日"[TOMORROW.weekday()]
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == (f"## 早安\n> VIP 茶友群 · {TOMORROW.month}月{TOMORROW.day}日 星期{weekday}\n\n"
                            "**小贴士**\n泡绿茶水温 80°C 最佳\n\n"
                            "**好物推荐**\n[金骏眉礼盒](https://example.com/p) ¥199\n\n"
                            "祝大家今天顺利！\n")
    assert "wecom_robot (wecom_markdown)" in shown.stderr
    as_json = json.loads(stack.cli("briefs", "preview", "--group", "tea-store", "--edition", "morning", "--date",
                                   str(TOMORROW), "--tenant", "tea", "--local", "--json").stdout)
    assert as_json["dialect"] == "telegram_html" and "金骏眉礼盒" not in as_json["text"] and as_json["title"] == "早安"
