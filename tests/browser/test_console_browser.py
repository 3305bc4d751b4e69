"""The console in a real headless Chromium (Debian's chromium and chromium-driver, driven with selenium), served
the way the local stack serves it: the template's HttpApi routes on a real gateway, the Console function in its
own worker process, DynamoDB Local and the SQS endpoint. A seeded tenant logs in with a link; the figures on the
pages are checked against the services' own answers and the rates and charts against `GET /v1/metrics` on days
RollupMetrics closed; a used and an expired link are refused; another tenant's
group is not reachable by URL; a guard task is closed with the page's button. Every page is saved as a
screenshot under .qunyun/screenshots/ for a look."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import metrics_api
import points_api
import pytest
import rollup_metrics
from console_support import add_points, now_utc, seed_world
from metrics_support import BERLIN, DAYS, FIRST, LAST, SHANGHAI, Group, History, seed
from points_support import OnlyTenants
from qunyun.adapters.console_sessions import ConsoleKeys
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.guard_log import GuardLog
from qunyun.adapters.metrics_store import MetricsStore
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.services.boards import leaderboard
from qunyun.services.console_auth import issue_link
from qunyun.services.console_rollups import group_charts
from qunyun.services.deliveries import list_deliveries
from qunyun.services.guard_ops import tasks
from qunyun.services.metrics_rollup import close_day
from qunyun_ops.browser import SCREENSHOTS, chromium, full_page_screenshot, screenshot_console
from qunyun_ops.env import local_environment, local_overrides
from qunyun_ops.local.gateway import Gateway
from qunyun_ops.local.sqs import SqsLocal, create_queues, sqs_client
from qunyun_ops.local.template import Template
from qunyun_ops.local.workers import FunctionPool
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from support import STACK, FakeContext, signed_event

ROOT = Path(__file__).resolve().parents[2]
PARKED = 2  # messages parked in the push queue's dead letters


def call_points(tenant, method, path, data):
    body = json.dumps(data).encode()
    resp = points_api.lambda_handler(signed_event(tenant.tenant_id, tenant.secret, method, path, body),
                                     FakeContext())
    assert resp["statusCode"] == 200, resp["body"]


@pytest.fixture(scope="module")
def console_url(ddb):
    """The template's HttpApi routes on 127.0.0.1, each function in worker processes as on the local stack."""
    template = Template.read(ROOT / "template.yaml")
    with SqsLocal() as sqs:
        urls = create_queues(sqs_client(sqs.endpoint), template, STACK)
        for n in range(PARKED):
            sqs_client(sqs.endpoint).send_message(QueueUrl=urls["PushDeadLetterQueue"], MessageBody=f"{{\"n\": {n}}}")
        env = local_environment(os.environ["DYNAMODB_ENDPOINT"], STACK, Path(os.environ["QUNYUN_SECRETS_FILE"]),
                                sqs.endpoint)
        with FunctionPool(template, ROOT, STACK, env, overrides=local_overrides()) as pool:
            gateway = Gateway(template, pool, access_log=False)
            port = gateway.start()
            yield f"http://127.0.0.1:{port}"
            gateway.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture
def world(tenant):
    now = now_utc()
    seeded = seed_world(tenant.tenant_id, tenant.timezone, now)
    add_points(call_points, tenant, now)
    return seeded


def link(base: str, tenant_id: str, at: datetime | None = None) -> str:
    token, _ = issue_link(tenant_id, at or datetime.now(UTC), tenants=TenantRepository(), keys=ConsoleKeys())
    return f"{base}/console/login?token={token}"


def log_in(browser, url: str) -> None:
    """Opens the link and waits for the login page to move on to today's page by itself."""
    browser.delete_all_cookies()
    browser.get(url)
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/console/today")
                                     and b.find_elements(By.ID, "pushes-total"))


def figure(browser, css: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, css).text.strip()


def test_log_in_see_the_figures_and_save_every_page(console_url, browser, tenant, world):
    log_in(browser, link(console_url, tenant.tenant_id))
    cookie = browser.get_cookie("qunyun_console")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["secure"] is False
    # today: the deliveries service (what `qunyun deliveries list` prints) counted independently
    _, records = list_deliveries(tenant.tenant_id, tenants=TenantRepository(), groups=GroupRepository(),
                                 deliveries=DeliveryRepository(), now=datetime.now(UTC))
    assert figure(browser, "#pushes-total") == str(len(records))
    for status in ("sent", "skipped", "failed", "awaiting_owner"):
        assert figure(browser, f"#pushes-{status}") == str(sum(r.status.value == status for r in records))
    assert figure(browser, '[data-queue="qunyun-test-pushes-dlq"]') == str(PARKED)
    assert figure(browser, "#owner-tasks-count") == "(1)" and figure(browser, "#broken-count") == "(1)"
    # points: the leaderboard service's top 20 of the month
    browser.get(f"{console_url}/console/points")
    board = leaderboard(tenant.tenant_id, "tenant", "month", world["day"], 20, ledger=PointsLedger(),
                        now=datetime.now(UTC))
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#leaderboard tr")[1:]]
    assert rows == [[str(e["rank"]), e["member_id"], str(e["points"])] for e in board["entries"]]
    # groups: members from the rosters
    browser.get(f"{console_url}/console/groups?sort=members&dir=desc")
    assert [tr.get_attribute("data-group") for tr in browser.find_elements(By.CSS_SELECTOR, "#groups tr")[1:]] == [
        "g-tea", "g-wecom", "g-flash"]
    assert figure(browser, '[data-group="g-tea"] .members') == "4"
    saved = screenshot_console(browser, console_url, link(console_url, tenant.tenant_id),
                               groups=("g-tea", "g-wecom"))
    browser.get(f"{console_url}/console/groups?lang=en")
    saved.append(full_page_screenshot(browser, SCREENSHOTS / "groups-en.png"))
    assert all(p.stat().st_size > 10_000 for p in saved)


@pytest.fixture(scope="module")
def history(ddb) -> History:
    """A Shanghai tenant's 40 days (a Telegram group counted by its messages, a Berlin group by its check-ins)
    closed by RollupMetrics, as the metrics tests seed and close them."""
    h = seed(SHANGHAI, ["g1,电报群,traffic,telegram_bot,,123:TOKEN,,-100200,,,,vip,s1,r1,",
                        f"g2,柏林群,welfare,outbox,,,,,{BERLIN},,,,s1,,"],
             {"g1": Group("g1", "telegram_bot", SHANGHAI, "s1", "r1"), "g2": Group("g2", "outbox", BERLIN, "s1")}, 11)
    tenant = TenantRepository().get(h.tenant_id)
    run = replace(rollup_metrics.default_deps(), tenants=OnlyTenants(h.tenant_id))
    for n in range(DAYS):
        close_day(tenant, FIRST + timedelta(days=n), run, datetime.now(UTC))
    MetricsStore().set_closed(h.tenant_id, LAST, datetime.now(UTC))
    return h


def api_metrics(h: History, scope: str, start: date, end: date) -> dict:
    """What a signed `GET /v1/metrics` answers for the scope and window."""
    event = signed_event(h.tenant_id, h.secret, "GET", f"/v1/metrics?scope={scope}&from={start}&to={end}")
    answer = metrics_api.process(event, FakeContext())
    assert answer["statusCode"] == 200, answer["body"]
    return json.loads(answer["body"])


def window(tz: str) -> tuple[date, date]:
    """The console's window: the 30 days before today in the timezone."""
    today = datetime.now(ZoneInfo(tz)).date()
    return today - timedelta(days=30), today - timedelta(days=1)


def chart_value(value: float, percent: bool = False) -> str:
    return f"{value * 100:.0f}%" if percent else f"{value:,.0f}"


# The group page's charts, in order, and the §8 fields each draws (issue 20: members, joins and leaves, active
# rate, messages, check-ins).
CHART_FIELDS = ((("members",), False), (("joins", "leaves"), False), (("active_rate",), True), (("messages",), False),
                (("checkins",), False))


def test_the_groups_page_and_a_group_s_charts_equal_get_v1_metrics(console_url, browser, history):
    log_in(browser, link(console_url, history.tenant_id))
    browser.get(f"{console_url}/console/groups")
    start, end = window(history.tz)
    for group_id in history.groups:
        total = api_metrics(history, f"group:{group_id}", start, end)["total"]
        assert figure(browser, f'[data-group="{group_id}"] .active-rate') == f"{total['active_rate'] * 100:.1f}%"
        assert figure(browser, f'[data-group="{group_id}"] .leave-rate') == f"{total['leave_rate'] * 100:.1f}%"
    assert not browser.find_elements(By.CSS_SELECTOR, "p.note")
    saved = [full_page_screenshot(browser, SCREENSHOTS / "groups-with-metrics.png")]
    for group_id, group in history.groups.items():
        browser.get(f"{console_url}/console/groups/{group_id}")
        days = api_metrics(history, f"group:{group_id}", *window(group.tz))["days"]
        assert len(days) >= 25 and any(d["active_rate"] for d in days)  # a month of closed days, some of it active
        charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
        assert len(charts) == len(CHART_FIELDS)
        for chart, (fields, percent) in zip(charts, CHART_FIELDS, strict=True):
            shown = [t.get_attribute("textContent") for t in chart.find_elements(By.CSS_SELECTOR, "circle title")]
            # each point's tooltip is "date series: value"
            assert [(t.split(" ", 1)[0], t.rsplit(": ", 1)[1]) for t in shown] == [
                (d["date"], chart_value(d[f], percent)) for f in fields for d in days]
        # an outbox group shows no messages: its active rate counts check-ins, and its chart says so
        assert ("按签到计" in charts[2].get_attribute("aria-label")) == (group.channel == "outbox")
        saved.append(full_page_screenshot(browser, SCREENSHOTS / f"group-{group_id}-with-metrics.png"))
    assert all(p.stat().st_size > 10_000 for p in saved)


def test_the_chart_component_renders_in_the_browser(browser, tmp_path):
    """The group page's chart component alone, on a month of made-up rows."""
    days = [{"date": (datetime(2026, 11, 1) + timedelta(days=i)).date().isoformat(), "members": 180 + i * 2 - (i % 7),
             "joins": 3 + i % 4, "leaves": i % 3, "active_rate": 0.08 + 0.006 * i, "messages": 20 + 3 * i,
             "checkins": 10 + i % 5} for i in range(30)]
    names = {"chart_members": "成员数", "chart_joins_leaves": "入群与退群", "chart_active_rate": "活跃率",
             "chart_messages": "消息数", "chart_checkins": "签到数", "members": "成员", "joins": "入群",
             "leaves": "退群", "active_rate": "活跃率", "messages": "消息", "checkins": "签到"}
    charts = group_charts(days, names.get)
    page = tmp_path / "charts.html"
    page.write_text("<!doctype html><meta charset='utf-8'><style>body{font-family:sans-serif;width:1200px}"
                    "div{display:inline-block;width:580px;margin:4px}svg text{font-size:11px;fill:gray}</style>"
                    + "".join(f"<div><b>{c['title']}</b>{c['svg']}</div>" for c in charts), encoding="utf-8")
    browser.get(page.as_uri())
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == 5
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart circle")) == 30 * 6
    assert full_page_screenshot(browser, SCREENSHOTS / "group-charts.png").stat().st_size > 10_000


def test_a_used_or_expired_link_is_refused(console_url, browser, tenant):
    url = link(console_url, tenant.tenant_id)
    log_in(browser, url)
    browser.delete_all_cookies()
    browser.get(url)
    assert "此链接已经用过一次" in browser.find_element(By.TAG_NAME, "body").text
    full_page_screenshot(browser, SCREENSHOTS / "refused-used.png")
    browser.get(f"{console_url}/console/today")
    assert "qunyun console --tenant" in browser.find_element(By.TAG_NAME, "body").text
    browser.get(link(console_url, tenant.tenant_id, at=datetime.now(UTC) - timedelta(minutes=11)))
    assert "此链接已过期" in browser.find_element(By.TAG_NAME, "body").text
    assert browser.get_cookie("qunyun_console") is None


def test_another_tenants_group_is_not_reachable_by_url(console_url, browser, tenant, make_tenant, world):
    other = make_tenant()
    log_in(browser, link(console_url, other.tenant_id))
    browser.get(f"{console_url}/console/groups/g-tea")
    assert browser.find_element(By.ID, "error").text == "出错了（404）"
    browser.get(f"{console_url}/console/groups")
    assert browser.find_elements(By.CSS_SELECTOR, "#groups tr[data-group]") == []


def test_closing_a_guard_task_from_its_page(console_url, browser, tenant, world):
    log_in(browser, link(console_url, tenant.tenant_id))
    browser.get(f"{console_url}/console/guard")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-task="{world["task_id"]}"]')
    assert "加微信 vx:abc 刷单" in row.text
    row.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(browser, 10).until(lambda b: "closed=" in b.current_url or b.find_elements(By.ID, "error"))
    assert world["task_id"] in browser.find_element(By.ID, "closed").text
    assert figure(browser, "#task-count") == "(0)"
    assert tasks(tenant.tenant_id, log=GuardLog()) == []
    assert GuardLog().action(tenant.tenant_id, world["task_id"]).status == "closed"
