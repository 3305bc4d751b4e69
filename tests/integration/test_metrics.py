"""Metrics on DynamoDB Local: 40 days of joins, leaves, messages, check-ins, purchases, redemptions, pushes and
WeCom statistics in two tenants and three timezones, closed by RollupMetrics and read through `GET /v1/metrics`,
equal the figures this test computes on its own from the same history (docs/metrics.md's definitions); a day
closed twice gives the same rows; a tenant's figures never hold another's; bad input is refused."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import metrics_api
import pytest
import rollup_metrics
from fakes.wecom_customer_group import FakeWecomCustomerGroups
from metrics_support import BERLIN, DAYS, FIRST, LA, LAST, SHANGHAI, Group, History, seed
from points_support import OnlyTenants
from qunyun.adapters.metrics_store import MetricsStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.adapters.wecom_statistics import WecomStatistics
from qunyun.services.metrics_rollup import close_day, rollup
from support import FakeContext, signed_event


@pytest.fixture(scope="module")
def wecom():
    with FakeWecomCustomerGroups() as fake:
        fake.add_corp("corp-1", "s")
        fake.add_owner("o1", ["wrA", "wrB"])
        yield fake


def deps(wecom, *tenant_ids: str):
    return replace(rollup_metrics.default_deps(), tenants=OnlyTenants(*tenant_ids),
                   statistics=WecomStatistics(secret_store(), wecom.base_url))


# ---- the figures, computed here from the history alone --------------------------------------------------------

def _split(amount: int, weights: dict[str, int]) -> dict[str, int]:
    whole = sum(weights.values())
    exact = {k: amount * w / whole if whole else amount / len(weights) for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    for k in sorted(weights, key=lambda k: (shares[k] - exact[k], k))[:amount - sum(shares.values())]:
        shares[k] += 1
    return shares


def expected_group_day(h: History, g: Group, day: date) -> dict:
    start, end = g.bounds(day)
    members = [m for m in g.joined if g.member_at(m, end)]
    joins = [how for when, how in g.joined.values() if start <= when < end]
    leaves = [how for when, how in g.left.values() if start <= when < end]
    earned = [e for e in h.earned if e[0] == day and e[1] == g.group_id]
    sent = [(mid, m) for mid, m, at in g.messages if start <= at < end]
    checkers = {m for _, _, m, _, kind in earned if kind == "checkin"}
    if g.channel == "telegram_bot":
        active, source = len({m for _, m in sent}), "messages"
    elif g.channel == "wecom_customer_group":
        active, source = None, "wecom_statistic"  # filled in by the owner's split
    else:
        active, source = len(checkers), "checkins"
    statuses = Counter(status for status, _ in g.pushes.get(day, []))
    month_limit = (date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)).day
    used = sum(1 for d in g.quota_days if d <= day and (d.year, d.month) == (day.year, day.month))
    return {"members": len(members), "joins": len(joins), "leaves": len(leaves),
            "removed": leaves.count("removed"), "active_members": active, "activity_source": source,
            "messages": len(sent), "checkins": sum(1 for e in earned if e[4] == "checkin"),
            "points_earned": sum(e[3] for e in earned),
            "buyers": len({e[2] for e in earned if e[4] == "purchase"}),
            "redemptions": sum(1 for d, m in h.redeemed if d == day and m in members),
            "pushes": {s: statuses.get(s, 0) for s in ("sent", "skipped", "failed", "awaiting_owner")},
            **({"quota_used": used, "quota_left": month_limit - used} if g.channel == "wecom_customer_group" else {})}


def expected_days(h: History) -> dict[str, dict[date, dict]]:
    """Every group's days, with the WeCom owner's day shared over the customer groups by their members."""
    out = {gid: {FIRST + timedelta(days=n): expected_group_day(h, g, FIRST + timedelta(days=n)) for n in range(DAYS)}
           for gid, g in h.groups.items()}
    customer = [gid for gid, g in h.groups.items() if g.channel == "wecom_customer_group"]
    for day, (active, messages) in h.wecom.items():
        weights = {gid: out[gid][day]["members"] for gid in customer}
        for gid, n in _split(active, weights).items():
            out[gid][day]["active_members"] = n
        for gid, n in _split(messages, weights).items():
            out[gid][day]["messages"] = n
    return out


COUNTS = ("members", "joins", "leaves", "removed", "active_members", "messages", "checkins", "points_earned",
          "redemptions", "buyers")


def summed(rows: list[dict]) -> dict:
    out = {k: sum(r[k] for r in rows) for k in COUNTS}
    out["pushes"] = {s: sum(r["pushes"][s] for r in rows) for s in ("sent", "skipped", "failed", "awaiting_owner")}
    sources = Counter(r["activity_source"] for r in rows)
    out["activity_source"] = max(("messages", "checkins", "wecom_statistic"),
                                 key=lambda s: (sources[s], -("messages", "checkins", "wecom_statistic").index(s)))
    quota = [r for r in rows if "quota_used" in r]
    if quota:
        out.update(quota_used=sum(r["quota_used"] for r in quota), quota_left=sum(r["quota_left"] for r in quota))
    return out


def with_rates(row: dict) -> dict:
    m = row["members"]
    return {**row, "leave_rate": round(row["leaves"] / (m + row["leaves"]), 4) if m + row["leaves"] else 0.0,
            "active_rate": min(1.0, round(row["active_members"] / m, 4)) if m else 0.0,
            "conversion_rate": min(1.0, round(row["buyers"] / m, 4)) if m else 0.0}


def api(h: History, query: str) -> tuple[int, dict]:
    answer = metrics_api.process(signed_event(h.tenant_id, h.secret, "GET", f"/v1/metrics?{query}"), FakeContext())
    return answer["statusCode"], json.loads(answer["body"])


def picked(row: dict, like: dict) -> dict:
    return {k: row[k] for k in like}


# ---- the seeded world -------------------------------------------------------------------------------------------

ROWS_A = ["g1,电报群,traffic,telegram_bot,,123:TOKEN,,-100200,,,,vip,s1,r1,",
          f"g2,柏林群,welfare,outbox,,,,,{BERLIN},,,,s1,,",
          "wc1,客户群一,store,wecom_customer_group,,,o1,wrA,,,,,s2,r1,",
          "wc2,客户群二,store,wecom_customer_group,,,o1,wrB,,,,,s2,r1,"]
ROWS_B = ["g1,洛杉矶群,traffic,outbox,,,,,,,,,s1,r1,"]


@pytest.fixture(scope="module")
def world(ddb, wecom):
    a = seed(SHANGHAI, ROWS_A, {"g1": Group("g1", "telegram_bot", SHANGHAI, "s1", "r1"),
                                "g2": Group("g2", "outbox", BERLIN, "s1", None, "welfare"),
                                "wc1": Group("wc1", "wecom_customer_group", SHANGHAI, "s2", "r1", "store"),
                                "wc2": Group("wc2", "wecom_customer_group", SHANGHAI, "s2", "r1", "store")},
             7, wecom)
    b = seed(LA, ROWS_B, {"g1": Group("g1", "outbox", LA, "s1", "r1")}, 8)
    run = deps(wecom, a.tenant_id, b.tenant_id)
    for h in (a, b):
        tenant = TenantRepository().get(h.tenant_id)
        for n in range(DAYS):
            close_day(tenant, FIRST + timedelta(days=n), run, datetime.now(UTC))
        MetricsStore().set_closed(h.tenant_id, LAST, datetime.now(UTC))
    return a, b, run


SCOPES = {"tenant": ["g1", "g2", "wc1", "wc2"], "store:s1": ["g1", "g2"], "store:s2": ["wc1", "wc2"],
          "rep:r1": ["g1", "wc1", "wc2"], "kind:store": ["wc1", "wc2"], "kind:welfare": ["g2"], "group:g1": ["g1"],
          "group:wc2": ["wc2"]}


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_each_scope_s_days_and_total_equal_the_history_s(world, scope):
    # GIVEN 40 closed days of a tenant whose groups live in Shanghai and Berlin
    a, _, _ = world
    want = expected_days(a)
    # WHEN the signed API is asked for the scope's 40 days
    status, body = api(a, f"scope={scope}&from={FIRST}&to={LAST}")
    # THEN each day, and the total, are what the history says
    assert status == 200, body
    assert (body["scope"], body["from"], body["to"], len(body["days"])) == (scope, str(FIRST), str(LAST), DAYS)
    for row in body["days"]:
        day = date.fromisoformat(row["date"])
        expected = with_rates(summed([want[g][day] for g in SCOPES[scope]]))
        assert picked(row, expected) == expected, row["date"]
    rows = [summed([want[g][FIRST + timedelta(days=n)] for g in SCOPES[scope]]) for n in range(DAYS)]
    total = body["total"]
    assert {k: total[k] for k in COUNTS if k not in ("members", "active_members")} == {
        k: sum(r[k] for r in rows) for k in COUNTS if k not in ("members", "active_members")}
    assert total["members"] == rows[-1]["members"]
    member_days = sum(r["members"] for r in rows)
    assert total["active_rate"] == min(1.0, round(sum(r["active_members"] for r in rows) / member_days, 4))
    assert total["leave_rate"] == round(total["leaves"] / (total["members"] + total["leaves"]), 4)


def test_the_history_has_every_kind_of_figure(world):
    # The comparison above is only as good as what the history holds: every figure occurs.
    a, _, _ = world
    rows = [r for g in expected_days(a).values() for r in g.values()]
    for k in ("joins", "leaves", "removed", "active_members", "messages", "checkins", "points_earned", "buyers",
              "redemptions"):
        assert sum(r[k] for r in rows) > 0, k
    assert {s for r in rows for s, n in r["pushes"].items() if n} == {"sent", "skipped", "failed", "awaiting_owner"}
    assert {r["activity_source"] for r in rows} == {"messages", "checkins", "wecom_statistic"}


def test_a_day_closed_twice_gives_the_same_rows(world):
    a, _, run = world
    day = FIRST + timedelta(days=20)
    store = MetricsStore()
    before = (store.groups_on(a.tenant_id, day), store.scope_days(a.tenant_id, "tenant", day, day))
    close_day(TenantRepository().get(a.tenant_id), day, run, datetime.now(UTC))
    assert (store.groups_on(a.tenant_id, day), store.scope_days(a.tenant_id, "tenant", day, day)) == before
    assert len(before[0]) == 4


def _midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(tz)).astimezone(UTC)


def test_the_hourly_run_closes_a_day_once_it_has_ended_in_every_timezone_of_the_tenant(world):
    # GIVEN tenant a (Shanghai, a group in Berlin) and tenant b (Los Angeles), closed through LAST
    a, b, run = world
    store, day = MetricsStore(), LAST + timedelta(days=1)
    berlin_midnight, la_midnight = _midnight(day + timedelta(days=1), BERLIN), _midnight(day + timedelta(days=1), LA)

    def hourly(at: datetime) -> dict:
        return rollup_metrics.process({"scheduled_time": at.isoformat().replace("+00:00", "Z")}, None, run)

    # WHEN the run comes a minute before Berlin's midnight (Shanghai's day has long ended) THEN nothing closes
    assert hourly(berlin_midnight - timedelta(minutes=1))["days"] == 0
    assert store.closed_through(a.tenant_id) == LAST and store.groups_on(a.tenant_id, day) == []
    # WHEN it comes after Berlin's midnight THEN a's day closes, b's (Los Angeles, 9 hours later) does not
    assert hourly(berlin_midnight + timedelta(minutes=5)) == {"tenants": 2, "days": 1, "groups": 4, "failed": 0}
    assert store.closed_through(a.tenant_id) == day and len(store.groups_on(a.tenant_id, day)) == 4
    assert store.closed_through(b.tenant_id) == LAST
    # WHEN the same hour runs again THEN nothing changes; after Los Angeles' midnight b's day closes
    rows = store.groups_on(a.tenant_id, day)
    assert hourly(berlin_midnight + timedelta(minutes=5))["days"] == 0
    assert store.groups_on(a.tenant_id, day) == rows
    assert rollup(la_midnight + timedelta(minutes=5), run)["days"] == 1
    assert store.closed_through(b.tenant_id) == day


def test_a_tenant_s_metrics_never_include_another_s(world):
    # GIVEN two tenants that both have a group g1, in store s1 and rep r1
    a, b, _ = world
    for h, groups_of in ((a, SCOPES), (b, {scope: ["g1"] for scope in SCOPES})):
        want = expected_days(h)
        # WHEN each asks for g1, store s1, rep r1 and the tenant
        for scope in ("group:g1", "store:s1", "rep:r1", "tenant"):
            status, body = api(h, f"scope={scope}&from={FIRST}&to={LAST}")
            # THEN each sees its own groups' figures only
            assert status == 200
            assert [(r["members"], r["messages"], r["points_earned"]) for r in body["days"]] == [
                tuple(sum(want[g][FIRST + timedelta(days=n)][k] for g in groups_of[scope])
                      for k in ("members", "messages", "points_earned")) for n in range(DAYS)], (h.tz, scope)
    # and a group only the other tenant has reads as nothing
    assert api(b, f"scope=group:wc1&from={FIRST}&to={LAST}")[1]["total"]["groups"] == 0


def test_the_group_table_gives_each_group_s_window(world):
    from qunyun.services.metrics import group_table

    a, _, _ = world
    want = expected_days(a)
    start = LAST - timedelta(days=6)
    rows = group_table(MetricsStore(), a.tenant_id, start, LAST)
    assert [r["group_id"] for r in rows] == ["g1", "g2", "wc1", "wc2"]
    for r in rows:
        week = [want[r["group_id"]][start + timedelta(days=n)] for n in range(7)]
        members, leaves = week[-1]["members"], sum(d["leaves"] for d in week)
        assert r["members"] == members
        assert r["leave_rate"] == (round(leaves / (members + leaves), 4) if members + leaves else 0.0)
        member_days = sum(d["members"] for d in week)
        active = sum(d["active_members"] for d in week)
        assert r["active_rate"] == (min(1.0, round(active / member_days, 4)) if member_days else 0.0)
    assert rows[0]["store"] == "s1" and rows[0]["rep"] == "r1" and rows[0]["tags"] == ["vip"]


@pytest.mark.parametrize("query, field", [
    ("scope=bogus", "scope"), ("scope=group:", "scope"), ("scope=store", "scope"),
    (f"from={LAST}&to={FIRST}", "from"), ("from=2025-01-01&to=2026-02-05", "to"), ("from=2026-13-01", "from"),
    ("to=yesterday", "to")])
def test_bad_input_to_the_api_is_a_400_naming_the_field(world, query, field):
    a, _, _ = world
    status, body = api(a, query)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["field"] == field


def cli(*args: str):
    from qunyun_ops.cli import app
    from typer.testing import CliRunner

    return CliRunner().invoke(app, ["metrics", *args])


def test_the_cli_prints_what_the_api_answers_as_json_csv_and_a_table(world):
    a, _, _ = world
    window = ["--from", str(LAST - timedelta(days=6)), "--to", str(LAST)]
    shown = cli("--tenant", a.tenant_id, "--scope", "store:s2", *window, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == api(a, f"scope=store:s2&from={LAST - timedelta(days=6)}&to={LAST}")[1]
    as_csv = cli("--tenant", a.tenant_id, "--scope", "store:s2", *window, "--csv")
    lines = as_csv.output.splitlines()
    assert as_csv.exit_code == 0 and lines[0].startswith("date,members,joins,leaves,removed,leave_rate")
    assert [line.split(",")[0] for line in lines[1:]] == [
        str(LAST - timedelta(days=n)) for n in range(6, -1, -1)] + ["total"]
    assert [int(line.split(",")[1]) for line in lines[1:-1]] == [d["members"] for d in json.loads(shown.output)["days"]]
    table = cli("--tenant", a.tenant_id, *window)
    assert table.exit_code == 0 and "tenant of" in table.output and "total" in table.output


@pytest.mark.parametrize("args, says", [
    (["--scope", "shop:1"], "scope must be tenant, group:ID"),
    (["--from", "2026-02-30"], "--from '2026-02-30' is not a date"),
    (["--from", "2026-03-01", "--to", "2026-02-01"], "from must be on or before to"),
    (["--from", "2024-01-01", "--to", "2026-01-01"], "more than 400 days"),
])
def test_bad_input_to_the_cli_exits_2_saying_what_to_fix(world, args, says):
    a, _, _ = world
    result = cli("--tenant", a.tenant_id, *args)
    assert result.exit_code == 2
    assert says in " ".join(result.output.split())


def test_an_unknown_tenant_and_two_formats_are_refused(ddb):
    assert cli("--tenant", "t-nobody-here").exit_code == 2
    assert cli("--tenant", "t-nobody-here", "--json", "--csv").exit_code == 2


def test_the_openapi_document_lists_the_metrics_route_and_its_parameters():
    import api_docs

    route = json.loads(api_docs.document())["paths"]["/v1/metrics"]["get"]
    assert {p["name"] for p in route["parameters"]} == {"scope", "from", "to"}


def test_wecom_busy_leaves_the_day_open_until_the_next_hour_gets_its_statistics(ddb, wecom):
    # GIVEN a tenant with one customer group of owner o2, whose day WeCom knows, and WeCom busy
    h = seed(SHANGHAI, ["wc9,客户群,store,wecom_customer_group,,,o2,wrZ,,,,,,,"], {}, 9, None)
    secret_store().put_many({f"{h.tenant_id}/wecom/corp_id": "corp-1", f"{h.tenant_id}/wecom/corp_secret": "s"})
    wecom.add_owner("o2", ["wrZ"])
    wecom.set_statistic("o2", int(datetime.combine(LAST, time(), ZoneInfo(SHANGHAI)).timestamp()),
                        {"member_has_msg": 6, "msg_total": 30})
    run, at = deps(wecom, h.tenant_id), _midnight(LAST + timedelta(days=1), SHANGHAI) + timedelta(minutes=5)
    wecom.force_errcode(-1, 3600)
    # WHEN the hour's run meets it THEN the tenant fails and its day stays open
    assert rollup(at, run)["failed"] == 1
    assert MetricsStore().closed_through(h.tenant_id) is None
    # WHEN WeCom answers again THEN the next hour closes the day with WeCom's figures
    wecom.clock.advance(3601)
    try:
        assert rollup(at + timedelta(hours=1), run) == {"tenants": 1, "days": 1, "groups": 1, "failed": 0}
    finally:
        wecom.clock.advance(-3601)
    status, body = api(h, f"scope=group:wc9&from={LAST}&to={LAST}")
    day = body["days"][0]
    assert (day["activity_source"], day["active_members"], day["messages"]) == ("wecom_statistic", 6, 30)
