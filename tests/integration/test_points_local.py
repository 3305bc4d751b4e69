"""Points against `qunyun local up`: independent signed HTTP requests, scheduled runs via `local run`.

The checks of the points issue, end to end: a check-in twice in one day grants once; 23:59:59 and
00:00:01 Shanghai time are two days and extend the streak; a purchase is pending, then available after
SettlePoints runs past the window; a partial refund inside the window cancels the proportional part;
a lot past expiry is expired by the next run; `points reconcile` exits 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from support_stack import DEMO, Stack, post_json

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("points-state")).up("--no-schedule")
    created = stack.cli("tenants", "create", "tea", "--name", "Tea", "--local", "--json")
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["webhook_secret"]
    rules = stack.state / "rules.yaml"
    text = (DEMO / "rules.yaml").read_text()
    rules.write_text(text.replace("policy: end_of_next_year", "policy: rolling_days\n  days: 3"))
    changed = stack.cli("points", "rules", "set", str(rules), "--tenant", "tea", "--local")
    assert changed.returncode == 0 and "expiry.policy end_of_next_year → rolling_days" in changed.stdout
    yield stack, secret
    stack.stop()


def send(shop, **event) -> dict:
    stack, secret = shop
    resp = post_json(stack, "/v1/points/events", "tea", secret, event)
    assert resp.status_code == 200, resp.text
    return resp.json()


def member(shop, member_id: str) -> dict:
    stack, _ = shop
    result = stack.cli("points", "show", member_id, "--tenant", "tea", "--local", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_settle(shop, at: datetime) -> dict:
    stack, _ = shop
    result = stack.cli("local", "run", "SettlePoints", "--at", at.isoformat())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_midnight_in_shanghai_is_two_days_and_a_streak(shop):
    today = datetime.now(SHANGHAI).date()
    before = datetime.combine(today, datetime.min.time(), SHANGHAI) - timedelta(seconds=1)  # 23:59:59 yesterday
    after = before + timedelta(seconds=2)  # 00:00:01 today
    first = send(shop, event_id="m1", type="checkin", member_id="night-owl", occurred_at=before.isoformat())
    second = send(shop, event_id="m2", type="checkin", member_id="night-owl", occurred_at=after.isoformat())
    again = send(shop, event_id="m3", type="checkin", member_id="night-owl", occurred_at=after.isoformat())
    assert (first["granted"], second["granted"], again["granted"]) == (5, 6, 0)  # streak day 2 earns +1
    assert member(shop, "night-owl")["streak"] == {"days": 2, "last_checkin": str(today)}


def test_purchase_pending_then_partial_refund_then_settled(shop):
    placed = datetime.now(UTC) - timedelta(days=6)
    send(shop, event_id="p1", type="purchase", member_id="buyer", order_id="o-1", amount_fen=12900,
         occurred_at=placed.isoformat())
    assert member(shop, "buyer")["balance"]["pending"] == 129
    refund = send(shop, event_id="p2", type="purchase_refund", member_id="buyer", order_id="o-1", refund_id="r-1",
                  amount_fen=4300, occurred_at=datetime.now(UTC).isoformat())
    assert refund["reversed"] == 43  # 129 × 4300 / 12900
    view = member(shop, "buyer")["balance"]
    assert (view["pending"], view["cancelled"], view["available"]) == (86, 43, 0)
    # WHEN SettlePoints runs before the window ends, nothing moves; after it ends, the rest is available
    assert run_settle(shop, placed + timedelta(days=6, hours=23))["settled"] == 0
    summary = run_settle(shop, placed + timedelta(days=7, minutes=1))
    assert summary["settled"] >= 1
    view = member(shop, "buyer")["balance"]
    assert (view["pending"], view["available"], view["cancelled"]) == (0, 86, 43)


def test_a_lot_past_expiry_is_expired_by_the_next_run(shop):
    send(shop, event_id="x1", type="checkin", member_id="forgetful", occurred_at=datetime.now(UTC).isoformat())
    assert member(shop, "forgetful")["balance"]["available"] == 5
    summary = run_settle(shop, datetime.now(UTC) + timedelta(days=4))
    assert summary["lots_expired"] >= 1
    view = member(shop, "forgetful")["balance"]
    assert (view["available"], view["expired"]) == (0, 5)


def test_adjust_top_and_reconcile(shop):
    stack, _ = shop
    send(shop, event_id="a1", type="checkin", member_id="star", occurred_at=datetime.now(UTC).isoformat())
    up = stack.cli("points", "adjust", "star", "+20", "--reason", "KOC reward", "--tenant", "tea", "--local")
    down = stack.cli("points", "adjust", "star", "-30", "--reason", "duplicate reward", "--tenant", "tea", "--local")
    assert up.returncode == 0 and down.returncode == 0, up.stderr + down.stderr
    assert "debt 5" in down.stdout  # 25 available, 30 taken: 5 becomes debt
    bad = stack.cli("points", "adjust", "star", "lots", "--reason", "x", "--tenant", "tea", "--local")
    assert bad.returncode == 2 and "whole number" in bad.stderr
    top = stack.cli("points", "top", "--tenant", "tea", "--period", "month", "--n", "500", "--csv", "--local")
    assert top.returncode == 0 and top.stdout.splitlines()[0] == "rank,member_id,points"
    reconcile = stack.cli("points", "reconcile", "--tenant", "tea", "--local")
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    # (the member made a moment ago among them: the command waits for the stack's stream to be paged)
    assert "every balance matches" in reconcile.stdout and "Reconciled 0 members" not in reconcile.stdout


def test_rules_file_errors_name_the_field_and_change_nothing(shop):
    stack, _ = shop
    bad = stack.state / "bad-rules.yaml"
    bad.write_text("checkin:\n  base: -5\nexpiry:\n  policy: rolling_days\n")
    result = stack.cli("points", "rules", "set", str(bad), "--tenant", "tea", "--local")
    assert result.returncode == 2
    assert "checkin.base" in result.stderr and "days is required" in result.stderr
    shown = json.loads(stack.cli("points", "rules", "show", "--tenant", "tea", "--local", "--json").stdout)
    assert shown["checkin"]["base"] == 5 and shown["expiry"] == {"policy": "rolling_days", "days": 3}


def test_unknown_scheduled_function_is_named(shop):
    stack, _ = shop
    result = stack.cli("local", "run", "NoSuchJob", "--at", "2026-11-25T02:00:00+08:00")
    assert result.returncode == 2 and "SettlePoints" in result.stderr


def test_migrate_finds_members_written_by_this_layout_already_moved(shop):
    # GIVEN the tenant's members, all written by the current layout
    stack, _ = shop
    send(shop, event_id="migrate-1", type="checkin", member_id="mover", occurred_at=datetime.now(UTC).isoformat())
    # WHEN `points migrate` runs, twice
    runs = [stack.cli("points", "migrate", "--tenant", "tea", "--local") for _ in range(2)]
    # THEN each says it moved nothing, and every member was already at the new layout
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Migrated 0 member(s) of tea: 0 guard item(s)" in run.stdout and " already migrated." in run.stdout
        assert "lot(s) that fall due into" in run.stdout
        assert "Moved 0 purchase lot(s) into their orders." in run.stdout  # this layout's orders hold their lots
    assert runs[0].stdout == runs[1].stdout
