"""The guard on DynamoDB Local: signed Telegram updates through InboundApi into ProcessGroupEvents, against a
fake Telegram that deletes, warns and removes (and can refuse). First and second offence, exemptions, an
allowed link, an offence outside the window, a retried batch after the removal call, a refusal, a pardon."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import inbound_support
import points_api
import process_group_events
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from fakes.callbacks import TelegramCallbacks
from fakes.telegram import FakeTelegramBot
from inbound_support import BOT, CHAT, Queued, deliver, sqs_event
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.guard_groups import GuardPlatforms
from qunyun.adapters.guard_log import GuardLog
from qunyun.adapters.guard_rules import GuardRulesStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.moderation import Moderation
from qunyun.domain.guard_rules import GroupRules
from qunyun.services import guard_ops
from qunyun.services.groups import import_groups
from qunyun.services.guard import guard_messages
from qunyun.services.guard_rules import RulesCache, set_rules
from stream_support import deliver_streams
from support import signed_event

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
TELEGRAM = TelegramCallbacks("secret-token")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RULES = {"guard": {"words": ["加微信", "刷单"], "allow_domains": ["example.com"], "window_days": 30,
                   "exempt": {"members": ["telegram:900"]}}}

telegram = inbound_support.telegram  # the shared fixture: a fake Telegram with the group's bot and chat


class Credentials:
    """InboundApi's Telegram connection, in memory."""

    def get(self, tenant_id, platform):
        return {"bot_token": BOT, "secret_token": "secret-token"} if platform == "telegram" else None


class World:
    def __init__(self, tenant_id: str, telegram: FakeTelegramBot, platforms=None):
        self.tenant_id, self.telegram, self.updates = tenant_id, telegram, 0
        self.platforms = platforms or GuardPlatforms(Moderation(telegram.base_url))
        base = process_group_events.default_deps()
        guard = replace(process_group_events.guard_deps(base.directory, base.timezone),
                        platforms=self.platforms, rules=RulesCache(GuardRulesStore(), seconds=0))
        self.deps = replace(base, guard=partial(guard_messages, deps=guard))

    def batch(self, *said: tuple[int, str, datetime]) -> dict:
        """Each (user, text, time) as a signed update through InboundApi; then one ProcessGroupEvents batch."""
        return self.updates_batch(*[{"message": {
            "date": int(at.timestamp()), "text": text, "from": {"id": user, "first_name": f"U{user}"},
            "chat": {"id": int(CHAT), "type": "supergroup"}}} for user, text, at in said])

    def join(self, user: int, at: datetime, status: str = "member", was: str = "left") -> dict:
        """A chat_member update: the user joins (as `status`: member, administrator or creator), or, from a
        present status `was`, is promoted or demoted."""
        person = {"id": user, "first_name": f"U{user}"}
        return self.updates_batch({"chat_member": {
            "chat": {"id": int(CHAT), "type": "supergroup"}, "from": person, "date": int(at.timestamp()),
            "old_chat_member": {"status": was, "user": person},
            "new_chat_member": {"status": status, "user": person}}})

    def updates_batch(self, *updates: dict) -> dict:
        """Each update signed through InboundApi; then one ProcessGroupEvents batch of what it queued."""
        queued = Queued()
        for update in updates:
            self.updates += 1
            if "message" in update:
                update["message"]["message_id"] = self.updates
            deliver(TELEGRAM.update({"update_id": self.updates, **update}), "telegram", self.tenant_id, Credentials(),
                    queued)
        self.last = sqs_event(queued.events)
        return process_group_events.process(self.last, None, self.deps)

    def actions(self, kind: str) -> list:
        return [a for a in GuardLog().actions(self.tenant_id) if a.kind == kind]


@pytest.fixture
def world(tenant, telegram):
    import_groups(tenant.tenant_id, "\n".join([HEADER, f"tg,电报群,traffic,telegram_bot,,{BOT},,{CHAT},,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    set_rules(tenant.tenant_id, GroupRules.model_validate(RULES), datetime.now(UTC), store=GuardRulesStore())
    return World(tenant.tenant_id, telegram)


def test_a_first_offence_warns_and_a_second_removes(world, telegram):
    # GIVEN a member who posts an ad
    assert world.batch((7, "便宜，加微信 abc123", T0)) == {"batchItemFailures": []}
    # THEN the message is deleted and one warning names the rule, never the offending text
    assert telegram.deleted == [(CHAT, "1")]
    [warning] = telegram.received
    assert "U7" in warning.text and "违禁词 1" in warning.text and "加微信" not in warning.text
    assert telegram.bans == []
    # WHEN they post another within the window
    world.batch((7, "刷单 兼职", T0 + timedelta(days=3)))
    # THEN they are removed (banned then unbanned: they may come back), not warned again
    assert telegram.bans == [(CHAT, "7")] and telegram.unbans == [(CHAT, "7")]
    assert len(telegram.received) == 1
    [removal] = world.actions("remove")
    assert (removal.status, removal.evidence, removal.rule) == ("done", "刷单 兼职", "word 2")
    # AND the log has both offences with their evidence, before the actions they caused
    log = guard_ops.history(world.tenant_id, "telegram:7", log=GuardLog())
    assert [r["kind"] for r in log] == ["offence", "delete", "warn", "offence", "delete", "remove"]
    assert log[0]["evidence"] == "便宜，加微信 abc123"


def test_a_third_offence_in_the_window_is_recorded_and_removes_no_one_again(world, telegram):
    # GIVEN a member removed on their second offence, whose third came in the same batch
    world.batch((7, "加微信", T0), (7, "加微信!", T0 + timedelta(minutes=1)), (7, "刷单", T0 + timedelta(minutes=2)))
    assert telegram.bans == [(CHAT, "7")] and len(telegram.received) == 1
    # WHEN a fourth arrives later in the window (sent before the removal took effect, or while a task is open)
    world.batch((7, "刷单 4", T0 + timedelta(days=1)))
    # THEN each offence is recorded and its message deleted, but there is one removal and no second warning
    assert len(GuardLog().offences(world.tenant_id)) == 4 and len(telegram.deleted) == 4
    assert telegram.bans == [(CHAT, "7")] and len(world.actions("remove")) == 1 and len(telegram.received) == 1
    # WHEN the member joins again after the removal and offends inside the same window
    world.join(7, T0 + timedelta(days=2))
    world.batch((7, "加微信 again", T0 + timedelta(days=2, hours=1)))
    # THEN they are removed again: the removal that stood was for their previous stay
    assert telegram.bans == [(CHAT, "7"), (CHAT, "7")] and len(world.actions("remove")) == 2


def test_a_removal_that_is_a_task_is_not_repeated_for_later_offences(world, telegram):
    telegram.refuse("banChatMember", "not enough rights to restrict/unrestrict chat member")
    world.batch((7, "加微信", T0), (7, "加微信!", T0 + timedelta(minutes=1)))
    world.batch((7, "加微信!!", T0 + timedelta(hours=1)), (7, "刷单", T0 + timedelta(hours=2)))
    [task] = guard_ops.tasks(world.tenant_id, log=GuardLog())
    assert task["evidence"] == "加微信!" and len(GuardLog().offences(world.tenant_id)) == 4


def test_exempt_members_and_allowed_links_are_left_alone(world, telegram):
    world.batch((900, "加微信 加微信", T0), (8, "menu at https://shop.example.com/tea", T0),
                (8, "and example.com too", T0 + timedelta(seconds=1)))
    assert telegram.received == [] and telegram.deleted == [] and GuardLog().offences(world.tenant_id) == []
    # AND another domain's link is an offence, named as a link
    world.batch((8, "cheaper at https://rival.cn/x", T0 + timedelta(minutes=1)))
    assert [o.rule for o in GuardLog().offences(world.tenant_id)] == ["link"]
    assert "rival.cn" not in telegram.received[0].text


def test_an_offence_outside_the_window_is_warned_again(world, telegram):
    world.batch((7, "加微信", T0))
    world.batch((7, "加微信", T0 + timedelta(days=31)))
    assert telegram.bans == [] and len(telegram.received) == 2 and len(world.actions("warn")) == 2


def test_a_batch_retried_after_the_removal_call_removes_once(world, telegram):
    class Crashing(GuardPlatforms):
        def remove(self, group, user_id):
            super().remove(group, user_id)
            raise TimeoutError("the function stopped before the result was recorded")

    crashing = World(world.tenant_id, telegram, Crashing(Moderation(telegram.base_url)))
    crashing.batch((7, "加微信", T0))
    with pytest.raises(BatchProcessingError):  # every record of the batch failed: SQS delivers it again
        crashing.batch((7, "加微信 again", T0 + timedelta(hours=1)))
    assert telegram.bans == [(CHAT, "7")]
    # WHEN the queue delivers the failed record again
    process_group_events.process(crashing.last, None, crashing.deps)
    # THEN the removal is not attempted again; it is a task to check, with the evidence
    assert telegram.bans == [(CHAT, "7")] and len(telegram.received) == 1
    [task] = guard_ops.tasks(world.tenant_id, log=GuardLog())
    assert task["kind"] == "remove" and "interrupted" in task["reason"] and task["evidence"] == "加微信 again"


def test_a_refused_removal_is_a_task_with_the_platforms_reason(world, telegram):
    telegram.refuse("banChatMember", "not enough rights to restrict/unrestrict chat member")
    world.batch((7, "加微信", T0), (7, "加微信!", T0 + timedelta(minutes=1)))
    [task] = guard_ops.tasks(world.tenant_id, log=GuardLog())
    assert "not enough rights" in task["reason"] and task["member_id"] == "telegram:7"
    closed = guard_ops.done(world.tenant_id, task["id"], datetime.now(UTC), log=GuardLog())
    assert closed["status"] == "closed" and guard_ops.tasks(world.tenant_id, log=GuardLog()) == []


def test_a_pardon_lets_the_member_back_and_clears_the_offences(world, telegram):
    world.batch((7, "加微信", T0), (7, "加微信!", T0 + timedelta(minutes=1)))
    [removal] = world.actions("remove")
    before = sum(1 for r in telegram.requests if r.path.endswith("/unbanChatMember"))
    pardoned = guard_ops.pardon(world.tenant_id, removal.action_id, datetime.now(UTC), log=GuardLog(),
                                platforms=world.platforms, group=world.deps.guard.keywords["deps"].groups)
    assert pardoned["status"] == "pardoned" and "may rejoin" in pardoned["reason"]
    assert sum(1 for r in telegram.requests if r.path.endswith("/unbanChatMember")) == before + 1
    assert all(o.pardoned for o in GuardLog().offences(world.tenant_id))
    # AND their next offence is a first one again: a warning, no removal
    world.batch((7, "刷单", T0 + timedelta(minutes=5)))
    assert len(telegram.bans) == 1 and len(world.actions("warn")) == 2


def test_the_cli_lists_tasks_closes_them_and_shows_the_log(world, telegram):
    from qunyun_ops.cli import app
    from typer.testing import CliRunner

    telegram.refuse("banChatMember", "not enough rights")
    world.batch((7, "加微信", T0), (7, "加微信!", T0 + timedelta(minutes=1)))
    runner = CliRunner()
    [task] = json.loads(runner.invoke(app, ["guard", "tasks", "--tenant", world.tenant_id, "--json"]).output)
    closed = runner.invoke(app, ["guard", "done", task["id"], "--tenant", world.tenant_id])
    assert closed.exit_code == 0 and "closed" in closed.output
    again = runner.invoke(app, ["guard", "done", task["id"], "--tenant", world.tenant_id])
    assert again.exit_code == 2 and "not an open task" in again.output
    rows = json.loads(runner.invoke(app, ["guard", "log", "--tenant", world.tenant_id, "--member", "telegram:7",
                                          "--json"]).output)
    assert [r["kind"] for r in rows].count("offence") == 2
    table = runner.invoke(app, ["guard", "log", "--tenant", world.tenant_id])
    assert table.exit_code == 0 and "telegram:7" in table.output


def test_the_top_members_by_points_are_exempt(world, telegram, tenant, context):
    # GIVEN rules exempting the month's top 1 by points, and two members who earned points today (signed events)
    rules = dict(RULES, guard=dict(RULES["guard"], exempt={"top_points": 1}))
    set_rules(world.tenant_id, GroupRules.model_validate(rules), datetime.now(UTC), store=GuardRulesStore())
    now = datetime.now(UTC).isoformat()
    for event in ({"event_id": "c7", "type": "checkin", "member_id": "telegram:7", "occurred_at": now},
                  {"event_id": "q7", "type": "quiz_answer", "member_id": "telegram:7", "quiz_id": "night",
                   "question_id": "1", "correct": True, "occurred_at": now},
                  {"event_id": "c8", "type": "checkin", "member_id": "telegram:8", "occurred_at": now}):
        answer = points_api.lambda_handler(signed_event(tenant.tenant_id, tenant.secret, "POST", "/v1/points/events",
                                                        json.dumps(event).encode()), context)
        assert answer["statusCode"] == 200, answer
    deliver_streams()  # the month's board, as PageEarnings pages it a batching window later
    # WHEN both post two ads
    world.batch((7, "加微信", T0), (8, "加微信", T0), (7, "刷单", T0 + timedelta(minutes=1)),
                (8, "刷单", T0 + timedelta(minutes=1)))
    # THEN the top member (15 points) is left alone; the second (5 points) is warned, then removed
    assert {o.member_id for o in GuardLog().offences(world.tenant_id)} == {"telegram:8"}
    assert telegram.bans == [(CHAT, "8")] and "U7" not in telegram.received[0].text


def test_owners_and_admins_are_exempt_by_the_roles_telegrams_chat_member_updates_give(world, telegram):
    rules = dict(RULES, guard=dict(RULES["guard"], exempt={"roles": ["owner", "admin"]}))
    set_rules(world.tenant_id, GroupRules.model_validate(rules), datetime.now(UTC), store=GuardRulesStore())
    # GIVEN the owner (creator), a member promoted to administrator, and an ordinary member
    world.join(8, T0 - timedelta(days=1), status="creator")
    world.join(7, T0 - timedelta(days=1))
    world.join(7, T0 - timedelta(hours=1), status="administrator", was="member")
    world.join(9, T0 - timedelta(days=1))
    # WHEN each posts an ad
    world.batch((7, "加微信", T0), (8, "加微信", T0), (9, "加微信", T0))
    # THEN only the ordinary member is an offender
    assert {o.member_id for o in GuardLog().offences(world.tenant_id)} == {"telegram:9"}
    # AND once demoted, the former admin is not exempt any more
    world.join(7, T0 + timedelta(hours=1), status="member", was="administrator")
    world.batch((7, "加微信", T0 + timedelta(hours=2)))
    assert {o.member_id for o in GuardLog().offences(world.tenant_id)} == {"telegram:9", "telegram:7"}


def test_a_warning_names_the_member_without_their_name_mentioning_anyone(world, telegram):
    world.updates_batch({"message": {"date": int(T0.timestamp()), "text": "加微信", "chat": {"id": int(CHAT),
                         "type": "supergroup"}, "from": {"id": 5, "first_name": "@all <b>[x](http://a.cn)</b>"}}})
    [warning] = telegram.received
    assert "＠all ＜b＞［x］(http://a.cn)＜/b＞" in warning.text and "@all" not in warning.text
