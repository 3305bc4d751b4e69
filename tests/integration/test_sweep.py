"""SweepInactive on DynamoDB Local: the silent listed with their evidence after the newcomers' grace and the
exemptions, at most max_per_run removed after the tenant's notice, a rerun of the week changing nothing, and a
WeCom customer group never swept, saying why."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import inbound_support
import process_group_events
import pytest
import sweep_inactive
from inbound_support import BOT, CHAT, sqs_event
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.guard_rules import GuardRulesStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.group_events import Member, MemberJoined, MemberLeft
from qunyun.domain.guard_rules import GroupRules
from qunyun.services.groups import import_groups
from qunyun.services.guard_rules import RulesCache, set_rules
from test_guard import HEADER, World
from typer.testing import CliRunner

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # a Monday's scheduled run
RULES = {"guard": {"words": ["加微信"], "exempt": {"members": ["telegram:6"]}},
         "sweep": {"mode": "remove", "max_per_run": 2, "silent_days": 7, "min_messages_30d": 3,
                   "newcomer_grace_days": 7, "notice": "长期未发言的群友将被移出。"}}

telegram = inbound_support.telegram  # the shared fixture: a fake Telegram with the group's bot and chat


@pytest.fixture
def swept(tenant, telegram):
    rows = [HEADER, f"tg,电报群,traffic,telegram_bot,,{BOT},,{CHAT},,,,,,,",
            "wc,客户群,traffic,wecom_customer_group,,,o1,wrC,,,,,,,"]
    import_groups(tenant.tenant_id, "\n".join(rows), tenants=TenantRepository(), groups=GroupRepository(),
                  secrets=secret_store())
    set_rules(tenant.tenant_id, GroupRules.model_validate(RULES), datetime.now(UTC), store=GuardRulesStore())
    world = World(tenant.tenant_id, telegram)
    joins = [MemberJoined(tenant_id=tenant.tenant_id, platform="telegram", event_id=f"j{u}", chat_id=CHAT,
                          occurred_at=NOW - timedelta(days=2 if u == 5 else 40), members=[Member(user_id=str(u))])
             for u in range(1, 7)]
    process_group_events.process(sqs_event(joins), None, world.deps)
    # 1 never spoke; 2 spoke 20 days ago; 3 once yesterday; 4 four times; 5 is a newcomer; 6 is exempt
    world.batch(*[(2, "早", NOW - timedelta(days=20, minutes=i)) for i in range(5)],
                (3, "早", NOW - timedelta(days=1)), *[(4, "早", NOW - timedelta(days=2, minutes=i)) for i in range(4)])
    guard = replace(world.deps.guard.keywords["deps"], rules=RulesCache(GuardRulesStore(), seconds=0))
    deps = replace(sweep_inactive.default_deps(), tenants=lambda: [tenant.tenant_id], guard=guard)
    return world, deps


def listed(tenant_id: str) -> list[dict]:
    from qunyun_ops.cli import app

    result = CliRunner().invoke(app, ["sweep", "list", "--tenant", tenant_id, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_sweep_removes_the_most_silent_after_the_notice_and_a_rerun_changes_nothing(swept, telegram):
    world, deps = swept
    event = {"scheduled_time": NOW.isoformat().replace("+00:00", "Z")}
    summary = sweep_inactive.process(event, None, deps)
    assert summary["groups"] == 2 and summary["removals"] == 2
    # THEN the silent are listed, most silent first, with their evidence; the newcomer and the exempt are not
    tg, wc = listed(world.tenant_id)
    assert [(r["member_id"], r["outcome"]) for r in tg["members"]] == [
        ("telegram:1", "remove"), ("telegram:2", "remove"), ("telegram:3", "reported")]
    assert tg["members"][1]["messages_30d"] == 5 and tg["members"][1]["why"] == "silent 20 days"
    assert tg["members"][2]["why"] == "1 messages in 30 days" and tg["members"][2]["last_message_at"]
    assert [r["removal"] for r in tg["members"][:2]] == ["done", "done"]
    # AND the notice came once, before the two removals (max_per_run)
    assert [m.text for m in telegram.received] == ["长期未发言的群友将被移出。"]
    assert telegram.bans == [(CHAT, "1"), (CHAT, "2")]
    # AND the WeCom customer group was not swept, and says why
    assert wc["members"] == [] and "no customer-group messages" in wc["skipped"]
    # WHEN the week's run is fired again (the scheduler retrying it)
    sweep_inactive.process(event, None, deps)
    assert telegram.bans == [(CHAT, "1"), (CHAT, "2")] and len(telegram.received) == 1
    assert listed(world.tenant_id) == [tg, wc]


def test_report_mode_lists_without_removing(swept, telegram):
    world, deps = swept
    rules = dict(RULES, sweep=dict(RULES["sweep"], mode="report"))
    set_rules(world.tenant_id, GroupRules.model_validate(rules), datetime.now(UTC), store=GuardRulesStore())
    sweep_inactive.process({"scheduled_time": NOW.isoformat()}, None, deps)
    [tg] = [r for r in listed(world.tenant_id) if r["group_id"] == "tg"]
    assert [r["outcome"] for r in tg["members"]] == ["reported"] * 3
    assert telegram.bans == [] and telegram.received == []


def test_the_sweeps_raw_reads_give_what_the_stores_give(swept):
    from qunyun.adapters.activity import ActivityStore
    from qunyun.adapters.roster import RosterStore
    from qunyun.adapters.sweep_reads import SweepReads

    world, _ = swept
    # GIVEN a member who left, besides the members who joined and spoke
    left = MemberLeft(tenant_id=world.tenant_id, platform="telegram", event_id="l1", chat_id=CHAT,
                      occurred_at=NOW - timedelta(days=3), members=[Member(user_id="1", name="One")])
    process_group_events.process(sqs_event([left]), None, world.deps)
    reads, first, last = SweepReads(), (NOW - timedelta(days=29)).date(), NOW.date()
    # THEN the roster's membership, names and join times, and the pages' messages, are the stores' own
    fields = ("member_id", "name", "status", "joined_at", "changed_at")
    stored = RosterStore().entries(world.tenant_id, "tg")
    assert [tuple(getattr(e, f) for f in fields) for e in reads.entries(world.tenant_id, "tg")] == \
        [tuple(getattr(e, f) for f in fields) for e in stored]
    assert {e.status for e in stored} == {"member", "left"} and len(stored) == 6
    days, _ = ActivityStore().read(world.tenant_id, "tg", first, last)
    assert reads.read(world.tenant_id, "tg", first, last)[0] == days and sum(map(len, days.values())) == 10


def test_the_weeks_runs_are_read_once_for_all_the_tenants_groups(swept):
    world, deps = swept
    asked = []

    class Counted(type(deps.runs)):
        def get(self, *args):
            asked.append("get")
            return super().get(*args)

        def of_week(self, *args):
            asked.append("of_week")
            return super().of_week(*args)

    deps = replace(deps, runs=Counted())
    for _ in range(2):  # the run, then its rerun (which finds both groups' runs)
        assert sweep_inactive.process({"scheduled_time": NOW.isoformat()}, None, deps)["groups"] == 2
    assert asked == ["of_week", "of_week"]
