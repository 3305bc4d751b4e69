"""The console's handler on DynamoDB Local, through API Gateway's HTTP API events: one-time links and sessions,
what each page shows against the services' own answers, tenant isolation, and closing a guard task with CSRF."""

from __future__ import annotations

import calendar
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import console
import points_api
import pytest
import rollup_metrics
from console_support import add_points, now_utc, seed_world
from points_support import OnlyTenants
from qunyun.adapters.console_sessions import ConsoleKeys
from qunyun.adapters.guard_log import GuardLog
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.services.boards import leaderboard
from qunyun.services.console_auth import issue_link
from qunyun.services.guard_ops import tasks
from qunyun.services.metrics_rollup import rollup
from qunyun_ops.local.gateway import compile_route, match
from qunyun_ops.local.template import Template
from support import FakeContext, http_event, signed_event


def call_points(tenant, method, path, data):
    import json

    body = json.dumps(data).encode()
    resp = points_api.lambda_handler(signed_event(tenant.tenant_id, tenant.secret, method, path, body),
                                     FakeContext())
    assert resp["statusCode"] == 200, resp["body"]


API_HOST = "abc.execute-api.us-east-1.amazonaws.com"


def get(path: str, context, cookie: str | list[str] | None = None, host: str = API_HOST,
        method: str = "GET", body: bytes = b"", headers: dict | None = None) -> dict:
    event = http_event(method, path, body, {"host": host, **(headers or {})})
    event.pop("cookies", None)
    if cookie:
        event["cookies"] = [cookie] if isinstance(cookie, str) else cookie
    return console.process(event, context)


def text_of(resp: dict) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", resp["body"]))


def login(tenant_id: str, context, host: str = "abc.execute-api.us-east-1.amazonaws.com") -> tuple[str, dict]:
    token, _ = issue_link(tenant_id, datetime.now(UTC), tenants=TenantRepository(), keys=ConsoleKeys())
    resp = get(f"/console/login?token={token}", context, host=host)
    assert resp["statusCode"] == 200, resp["body"]
    session = next(c for c in resp["cookies"] if c.startswith("qunyun_console="))
    return session.split(";")[0], resp


@pytest.fixture
def world(tenant, context):
    now = now_utc()
    seeded = seed_world(tenant.tenant_id, tenant.timezone, now)
    add_points(call_points, tenant, now)
    return seeded


def test_a_link_logs_in_once_with_a_strict_http_only_cookie(tenant, context):
    token, _ = issue_link(tenant.tenant_id, datetime.now(UTC), tenants=TenantRepository(), keys=ConsoleKeys())
    first = get(f"/console/login?token={token}", context)
    assert first["statusCode"] == 200
    cookie = next(c for c in first["cookies"] if c.startswith("qunyun_console="))
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/console", "Max-Age=43200"} <= {
        p.strip() for p in cookie.split(";")}
    again = get(f"/console/login?token={token}", context)
    assert again["statusCode"] == 403
    assert "此链接已经用过一次" in again["body"] and "qunyun_console" not in str(again.get("cookies"))


def test_the_local_stack_cookie_is_not_secure_and_the_token_is_stored_only_hashed(tenant, context, ddb):
    token, _ = issue_link(tenant.tenant_id, datetime.now(UTC), tenants=TenantRepository(), keys=ConsoleKeys())
    items = ddb.scan(TableName="qunyun-test-community")["Items"]
    assert token not in str(items)
    resp = get(f"/console/login?token={token}", context, host="127.0.0.1:3000")
    cookie = next(c for c in resp["cookies"] if c.startswith("qunyun_console="))
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert cookie.split(";")[0].split("=", 1)[1] not in str(ddb.scan(TableName="qunyun-test-community")["Items"])


def test_expired_and_unknown_links_are_refused_with_a_page_that_says_why(tenant, context):
    old, _ = issue_link(tenant.tenant_id, datetime.now(UTC) - timedelta(minutes=11), tenants=TenantRepository(),
                        keys=ConsoleKeys())
    expired = get(f"/console/login?token={old}", context, headers={"accept-language": "en-US,en;q=0.9"})
    assert expired["statusCode"] == 403 and "This link has expired" in expired["body"]
    assert not expired.get("cookies")
    unknown = get("/console/login?token=not-a-token", context)
    assert unknown["statusCode"] == 403 and "无法识别此链接" in unknown["body"]


def test_every_page_needs_a_session(context, ddb):
    for path in ("/console/today", "/console/groups", "/console/groups/g-tea", "/console/points",
                 "/console/points/top.csv", "/console/guard", "/console/flash"):
        resp = get(path, context, cookie="qunyun_console=forged")
        assert resp["statusCode"] == 401, path
    assert get("/console/guard/tasks/x/close", context, method="POST")["statusCode"] == 401


def test_today_shows_the_days_pushes_tasks_and_broken_channels(tenant, world, context):
    cookie, _ = login(tenant.tenant_id, context)
    resp = get("/console/today", context, cookie)
    assert resp["statusCode"] == 200
    body = resp["body"]
    # GIVEN five records of the day: 1 sent, 2 skipped, 1 failed, 1 awaiting the owner
    for status, n in (("sent", 1), ("skipped", 2), ("failed", 1), ("awaiting_owner", 1), ("total", 5)):
        assert re.search(rf'id="pushes-{status}">{n}<', body), status
    assert "daily_cap" in body and "quota" in body and "channel_broken" in body
    assert 'id="owner-tasks-count">(1)' in body and "msgAAA1" in body
    assert 'id="broken-count">(1)' in body and "the bot token was revoked (401)" in body
    assert resp["headers"]["Content-Security-Policy"].startswith("default-src 'none'")


def test_groups_table_members_last_brief_and_quota_and_sorting(tenant, world, context):
    cookie, _ = login(tenant.tenant_id, context)
    body = get("/console/groups?sort=members&dir=desc", context, cookie)["body"]
    order = re.findall(r'<tr data-group="([^"]+)">', body)
    assert order == ["g-tea", "g-wecom", "g-flash"]
    row = {g: body.split(f'data-group="{g}"')[1].split("</tr>")[0] for g in order}
    assert 'class="n members">4<' in row["g-tea"]  # five joined, one left
    assert 'class="n members">3<' in row["g-wecom"]
    # the evening's skip is each group's latest brief
    assert "已跳过" in row["g-tea"] and "已跳过" in row["g-wecom"] and "已失败" not in row["g-flash"]
    assert "失败" in row["g-flash"]
    # A customer group's month holds as many mass sends as it has days; the records above spent nothing of it.
    day = world["day"]
    quota = int(re.search(r'class="n quota">(\d+)<', row["g-wecom"]).group(1))
    assert quota == calendar.monthrange(day.year, day.month)[1]
    assert 'class="n quota">—<' in row["g-tea"]
    filtered = get("/console/groups?store=s1", context, cookie)["body"]
    assert re.findall(r'<tr data-group="([^"]+)">', filtered) == ["g-flash", "g-tea"]  # by group id
    assert "近 30 天还没有汇总完成的日子" in body  # no day closed yet in this world


def test_a_group_page_shows_its_roster_and_pushes_and_another_tenants_is_not_found(tenant, make_tenant, world,
                                                                                   context):
    cookie, _ = login(tenant.tenant_id, context)
    page = get("/console/groups/g-tea", context, cookie)
    assert page["statusCode"] == 200
    assert 'id="member-count">4<' in page["body"] and "茶友3" in page["body"]
    assert "daily_cap" in page["body"] and "近 30 天的图表来自每日指标汇总" in page["body"]
    other = make_tenant()
    other_cookie, _ = login(other.tenant_id, context)
    assert get("/console/groups/g-tea", context, other_cookie)["statusCode"] == 404
    assert "g-tea" not in get("/console/groups", context, other_cookie)["body"]
    assert get("/console/groups/nope", context, cookie)["statusCode"] == 404


def test_points_page_and_csv_match_the_leaderboard_service(tenant, world, context):
    cookie, _ = login(tenant.tenant_id, context)
    board = leaderboard(tenant.tenant_id, "tenant", "month", world["day"], 2, ledger=PointsLedger(),
                        now=datetime.now(UTC))
    assert [e["member_id"] for e in board["entries"]] == ["u-gold", "u-silver"]
    page = get("/console/points?period=month&n=2", context, cookie)["body"]
    table = page.split('id="leaderboard"')[1].split("</table>")[0]
    rows = re.findall(r'<td class="n">(\d+)</td><td>([^<]+)</td><td class="n">(\d+)</td>', table)
    assert [(int(r), m, int(p)) for r, m, p in rows] == [(e["rank"], e["member_id"], e["points"])
                                                         for e in board["entries"]]
    assert re.search(r'data-reward="cup">.*?class="n stock">12<', page) and "新茶试饮装" in page
    csv = get("/console/points/top.csv?period=month&n=2", context, cookie)
    assert csv["headers"]["Content-Type"].startswith("text/csv")
    assert csv["body"].splitlines() == ["rank,member_id,points"] + [
        f'{e["rank"]},"{e["member_id"]}",{e["points"]}' for e in board["entries"]]
    assert get("/console/points?n=9999", context, cookie)["statusCode"] == 400


def test_closing_a_guard_task_needs_the_sessions_csrf_token(tenant, world, context):
    cookie, _ = login(tenant.tenant_id, context)
    page = get("/console/guard", context, cookie)["body"]
    assert "加微信 vx:abc 刷单" in page and "silent 7 days" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    path = f"/console/guard/tasks/{world['task_id']}/close"
    form = {"content-type": "application/x-www-form-urlencoded"}
    refused = get(path, context, cookie, method="POST", body=b"csrf=wrong", headers=form)
    assert refused["statusCode"] == 403
    assert [t["id"] for t in tasks(tenant.tenant_id, log=GuardLog())] == [world["task_id"]]
    done = get(path, context, cookie, method="POST", body=f"csrf={csrf}".encode(), headers=form)
    assert done["statusCode"] == 303 and done["headers"]["Location"].startswith("/console/guard?closed=")
    assert tasks(tenant.tenant_id, log=GuardLog()) == []
    assert GuardLog().action(tenant.tenant_id, world["task_id"]).status == "closed"


def test_flash_page_and_english(tenant, world, context):
    cookie, _ = login(tenant.tenant_id, context)
    flash = get("/console/flash", context, cookie)
    assert flash["statusCode"] == 200 and "双十二快闪群" in flash["body"] and "进行中" in flash["body"]
    english = get("/console/today?lang=en", context, cookie)
    assert "Today ·" in english["body"] and "awaiting owner" in english["body"]
    assert any(c.startswith("qunyun_lang=en") for c in english["cookies"])
    remembered = get("/console/groups", context, [cookie, "qunyun_lang=en"])
    assert "Groups" in remembered["body"] and "Active rate" in remembered["body"]


def test_the_console_address_with_or_without_a_trailing_slash_opens_today(context):
    """/console/ is what people type: the gateway (local as on AWS) hands it to the console's greedy route, and
    the console sends it on to today's page like /console."""
    routes = [compile_route(r) for r in Template.read(Path(__file__).resolve().parents[2] / "template.yaml").routes]
    slash, params = match(routes, "GET", "/console/")
    assert (slash.route.function, slash.route.path, params) == ("Console", "/console/{proxy+}", {"proxy": ""})
    assert match(routes, "GET", "/console")[0].route.path == "/console"
    assert match(routes, "GET", "/consoles") is None
    for path in ("/console", "/console/"):
        resp = get(path, context)
        assert resp["statusCode"] == 303 and resp["headers"]["Location"] == "/console/today", path
    assert get("/console/nothing-here", context)["statusCode"] == 404


def test_a_day_closed_ahead_of_its_end_shows_in_the_charts_and_rates_labelled_as_today(tenant, world, context):
    # GIVEN RollupMetrics run as at just after today's midnight, as the demo runs it: today is closed already
    today = world["day"]
    zone = ZoneInfo(tenant.timezone)
    at = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone) + timedelta(minutes=10)
    rollup(at, replace(rollup_metrics.default_deps(), tenants=OnlyTenants(tenant.tenant_id)))
    cookie, _ = login(tenant.tenant_id, context)
    # WHEN the group page is asked for
    page = get("/console/groups/g-tea", context, cookie)["body"]
    # THEN its charts end with today, say so, and its members chart's last point is today's 4 members
    assert "近 30 天的图表来自每日指标汇总" not in page
    window = text_of({"body": page.split('id="charts-window">')[1].split("</p>")[0]})
    assert f"{today - timedelta(days=29)} 至 {today}" in window and "含今天" in window
    points = re.findall(r"<title>([^<]*)</title>", page.split('class="chart-box"')[1])
    assert points[-1].startswith(str(today)) and points[-1].endswith(": 4")
    # AND the groups page's rates take today's figures, with no note that no day is closed
    groups = get("/console/groups", context, cookie)["body"]
    assert "近 30 天还没有汇总完成的日子" not in groups
    row = groups.split('data-group="g-tea"')[1].split("</tr>")[0]
    assert re.search(r'class="n leave-rate">\d+\.\d%<', row), row  # a rate, where no closed day shows "—"


def test_the_console_reads_a_roster_as_the_roster_store_gives_it(tenant, world):
    from qunyun.adapters.console_roster import ConsoleRoster
    from qunyun.adapters.roster import RosterStore
    from qunyun.domain.roster import RosterChange

    # GIVEN a roster with a member who left, one with a role and one a join link brought
    RosterStore().apply(tenant.tenant_id, "g-tea", RosterChange("telegram:200", "member", now_utc(), "link",
                                                                name="链接来的", link_id="lk-1", link_for="store:s1"))
    RosterStore().set_role(tenant.tenant_id, "g-tea", "telegram:101", "admin", now_utc())
    # WHEN the console reads it raw, THEN it has every entry's every field as the roster store reads them
    for group_id in ("g-tea", "g-wecom", "g-flash"):
        assert ConsoleRoster().entries(tenant.tenant_id, group_id) == RosterStore().entries(tenant.tenant_id,
                                                                                            group_id)
    entries = {e.member_id: e for e in ConsoleRoster().entries(tenant.tenant_id, "g-tea")}
    assert entries["telegram:100"].status == "left" and entries["telegram:101"].role == "admin"
    assert entries["telegram:200"].link_for == "store:s1" and entries["telegram:200"].name == "链接来的"


def test_a_group_page_lists_its_pushes_up_to_its_today(tenant, world, context):
    from console_support import _record
    from qunyun.adapters.deliveries import DeliveryRepository
    from qunyun.domain.deliveries import Status
    from qunyun.domain.quota import Push

    # GIVEN a brief of g-tea recorded skipped 40 days ahead (a record dated later than today), and one sent 45
    # days ago (before the 30 days the page looks in first)
    ahead, before = world["day"] + timedelta(days=40), world["day"] - timedelta(days=45)
    DeliveryRepository().add(_record(tenant.tenant_id, "g-tea", ahead, Push.brief("morning"), "outbox",
                                     Status.skipped, now_utc(), reason="paused"))
    DeliveryRepository().add(_record(tenant.tenant_id, "g-tea", before, Push.brief("morning"), "outbox",
                                     Status.sent, now_utc()))
    assert str(ahead) in {str(r.date) for r in DeliveryRepository().of_group(tenant.tenant_id, "g-tea")}
    cookie, _ = login(tenant.tenant_id, context)
    # WHEN its page is asked for
    pushes = get("/console/groups/g-tea", context, cookie)["body"].split('id="pushes"')[1].split("</table>")[0]
    # THEN its pushes are today's, then the older one (fewer than 50 in the last 30 days), newest first; the one
    # ahead is not listed yet
    assert str(world["day"]) in pushes and "daily_cap" in pushes
    assert str(before) in pushes and pushes.index(str(world["day"])) < pushes.index(str(before))
    assert str(ahead) not in pushes and "paused" not in pushes
