"""Metrics on the local stack as an operator sees them: groups imported, `qunyun local run RollupMetrics --at`
closing the days, the signed `GET /v1/metrics` over real HTTP and `qunyun metrics --local` telling the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from support_stack import Stack, ok

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("state")).up("--no-schedule")
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_a_closed_day_reads_the_same_over_http_and_through_the_cli(stack, tmp_path):
    # GIVEN a tenant with two groups in two stores
    secret = json.loads(ok(stack.cli("tenants", "create", "shop-m", "--name", "M", "--timezone", "Asia/Shanghai",
                                     "--local", "--json")).stdout)["webhook_secret"]
    csv = tmp_path / "groups.csv"
    rows = [HEADER, "g1,一群,traffic,outbox,,,,,,,,,s1,r1,", "g2,二群,welfare,outbox,,,,,,,,,s2,r1,"]
    csv.write_text("\n".join(rows), encoding="utf-8")
    ok(stack.cli("groups", "import", str(csv), "--tenant", "shop-m", "--local"))
    # WHEN RollupMetrics runs after Shanghai's midnight, as the scheduler would
    day = (datetime.now(UTC) + timedelta(hours=8)).date() - timedelta(days=2)
    at = datetime(day.year, day.month, day.day, 17, 5, tzinfo=UTC)  # 01:05 the next day in Shanghai
    ok(stack.cli("local", "run", "RollupMetrics", "--at", at.isoformat()))
    # THEN the day is there, over HTTP and through the CLI alike
    resp = stack.get(f"/v1/metrics?scope=rep:r1&from={day}&to={day}", "shop-m", secret)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [d["date"] for d in body["days"]] == [str(day)]
    assert body["days"][0]["groups"] == 2 and body["days"][0]["activity_source"] == "checkins"
    shown = ok(stack.cli("metrics", "--tenant", "shop-m", "--scope", "rep:r1", "--from", str(day), "--to", str(day),
                         "--json", "--local"))
    assert json.loads(shown.stdout) == body
    bad = stack.get("/v1/metrics?scope=shop:1", "shop-m", secret)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "scope"
