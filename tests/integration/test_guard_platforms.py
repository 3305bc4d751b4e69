"""The guard on Feishu, Slack and DingTalk, on DynamoDB Local: each platform's signed callbacks through InboundApi
into ProcessGroupEvents, the tenant's app credentials from its connection (`qunyun connect`), and fakes that
answer the moderation calls with their documented checks: what is deleted, warned and removed, and what each
platform refuses (recorded with its reason; a refused removal is an operator task)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import process_group_events
import pytest
from fakes.callbacks import DingtalkCallbacks, FeishuCallbacks, SlackCallbacks, aes_key
from fakes.dingtalk import FakeDingtalkRobot
from fakes.feishu import FakeFeishuBot
from fakes.slack import FakeSlackWebhook
from inbound_support import Queued, deliver, sqs_event
from qunyun.adapters.connections import ConnectionStore
from qunyun.adapters.credentials import CachedCredentials
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.guard_groups import GuardPlatforms
from qunyun.adapters.guard_log import GuardLog
from qunyun.adapters.guard_rules import GuardRulesStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.moderation import Moderation
from qunyun.domain.guard_rules import GroupRules
from qunyun.services import guard_ops
from qunyun.services.connections import connect
from qunyun.services.groups import import_groups
from qunyun.services.guard import guard_messages
from qunyun.services.guard_rules import RulesCache, set_rules
from test_guard import HEADER

RULES = {"guard": {"words": ["加微信", "刷单"], "window_days": 30}}
DINGTALK_KEY = aes_key()
APPS = {"feishu": {"app_id": "cli_a1", "app_secret": "feishu-secret", "verification_token": "vt",
                   "encrypt_key": "ek"},
        "slack": {"bot_token": "xoxb-1-bot", "signing_secret": "slack-signing"},
        "dingtalk": {"app_key": "dingapp", "app_secret": "dingtalk-secret", "token": "dtok", "aes_key": DINGTALK_KEY}}
FEISHU = FeishuCallbacks("ek", "vt")
SLACK = SlackCallbacks("slack-signing")
DINGTALK = DingtalkCallbacks("dingapp", "dingtalk-secret", "dtok", DINGTALK_KEY)


class Platforms:
    """A tenant connected to Feishu, Slack and DingTalk, with a group on each (two on DingTalk: an ordinary
    group and a scene group), and ProcessGroupEvents' guard calling the fakes."""

    def __init__(self, tenant_id: str, feishu: FakeFeishuBot, slack: FakeSlackWebhook, dingtalk: FakeDingtalkRobot):
        self.tenant_id, self.serial = tenant_id, 0
        for platform, values in APPS.items():
            connect(tenant_id, platform, values, tenants=TenantRepository(), connections=ConnectionStore(),
                    secrets=secret_store(), now=datetime.now(UTC))
        rows = [HEADER, f"fs,飞书群,traffic,feishu_bot,{feishu.base_url}/open-apis/bot/v2/hook/t,,,oc_chat,,,,,,,",
                f"sl,Slack,traffic,slack_webhook,{slack.base_url}/services/T/B/X,,,C100,,,,,,,",
                f"dd,钉钉群,traffic,dingtalk_robot,{dingtalk.base_url}/robot/send?access_token=r1,,,cidOrdinary,,,,,,,",
                f"ds,钉钉场景群,traffic,dingtalk_robot,{dingtalk.base_url}/robot/send?access_token=r2,,,cidScene,,,,"
                "scene_group,,,"]
        import_groups(tenant_id, "\n".join(rows), tenants=TenantRepository(), groups=GroupRepository(),
                      secrets=secret_store())
        set_rules(tenant_id, GroupRules.model_validate(RULES), datetime.now(UTC), store=GuardRulesStore())
        moderation = Moderation("http://127.0.0.1:9", feishu_base_url=feishu.base_url,
                                slack_api_base_url=slack.base_url, dingtalk_base_url=dingtalk.base_url)
        base = process_group_events.default_deps()
        guard = replace(process_group_events.guard_deps(base.directory, base.timezone),
                        platforms=GuardPlatforms(moderation), rules=RulesCache(GuardRulesStore(), seconds=0))
        self.deps = replace(base, guard=partial(guard_messages, deps=guard))
        self.credentials = CachedCredentials(ConnectionStore(), secret_store(), 0)

    def said(self, platform: str, *calls) -> None:
        """Each signed callback through InboundApi; then one ProcessGroupEvents batch of what they queued."""
        queued = Queued()
        for call in calls:
            deliver(call, platform, self.tenant_id, self.credentials, queued)
        assert process_group_events.process(sqs_event(queued.events), None, self.deps) == {"batchItemFailures": []}

    def feishu(self, user: str, message_id: str, text: str):
        self.serial += 1
        return FEISHU.event("im.message.receive_v1", {
            "sender": {"sender_id": {"open_id": user}, "sender_type": "user"},
            "message": {"message_id": message_id, "chat_id": "oc_chat", "chat_type": "group",
                        "message_type": "text", "content": json.dumps({"text": text}, ensure_ascii=False)}})

    def slack(self, user: str, ts: str, text: str):
        self.serial += 1
        return SLACK.call({"type": "event_callback", "event_id": f"Ev{self.serial}", "event_time": int(time.time()),
                           "event": {"type": "message", "channel": "C100", "user": user, "text": text, "ts": ts}})

    def dingtalk(self, chat: str, user: str, text: str, admin: bool = False):
        self.serial += 1
        return DINGTALK.robot({"conversationType": "2", "conversationId": chat, "senderStaffId": user, "isAdmin": admin,
                               "senderNick": user, "msgId": f"msg{self.serial}", "msgtype": "text",
                               "createAt": int(time.time() * 1000) + self.serial,
                               "text": {"content": f"@机器人 {text}"}})

    def actions(self, kind: str, group: str) -> list:
        return [a for a in GuardLog().actions(self.tenant_id) if a.kind == kind and a.group_id == group]


@pytest.fixture
def fakes():
    with FakeFeishuBot() as feishu, FakeSlackWebhook() as slack, FakeDingtalkRobot() as dingtalk:
        feishu.add_app("cli_a1", "feishu-secret")
        feishu.add_chat("oc_chat", members={"ou_7", "ou_8"}, owner="ou_1")
        slack.add_bot_token("xoxb-1-bot", bot_user="UBOT")
        slack.add_channel("C100", members={"UBOT", "U7", "U8"})
        dingtalk.add_app("dingapp", "dingtalk-secret")
        dingtalk.add_scene_group("cidScene", members={"u7", "u8"})
        dingtalk.add_robot("r1")
        dingtalk.add_robot("r2")
        yield feishu, slack, dingtalk


@pytest.fixture
def world(tenant, fakes):
    return Platforms(tenant.tenant_id, *fakes)


def test_feishu_recalls_warns_then_removes_as_the_app(world, fakes):
    feishu = fakes[0]
    feishu.said("oc_chat", "om_1")
    feishu.said("oc_chat", "om_2")
    # GIVEN a member's ad in a Feishu group
    world.said("feishu", world.feishu("ou_7", "om_1", "便宜 加微信 v123"))
    # THEN the app recalls it and posts one warning naming the rule, never the word
    assert feishu.recalled == ["om_1"]
    [(chat, warning)] = feishu.sent
    assert chat == "oc_chat" and "违禁词 1" in warning and "加微信" not in warning
    # WHEN the member's next ad comes after the app's token has expired
    feishu.expire_tokens()
    world.said("feishu", world.feishu("ou_7", "om_2", "刷单"))
    # THEN the app fetched a token anew, recalled it and removed the member from the chat
    assert feishu.recalled == ["om_1", "om_2"] and feishu.removed == [("oc_chat", "ou_7")]
    [removal] = world.actions("remove", "fs")
    assert removal.status == "done" and len(feishu.sent) == 1
    tokens = [r for r in feishu.requests if r.path.endswith("/tenant_access_token/internal")]
    assert len(tokens) == 2 and tokens[0].json() == {"app_id": "cli_a1", "app_secret": "feishu-secret"}
    delete = next(r for r in feishu.requests if r.method == "DELETE" and r.path.endswith("/members"))
    assert delete.query == {"member_id_type": "open_id"} and delete.json() == {"id_list": ["ou_7"]}


def test_feishu_refusals_are_recorded_with_its_reasons(world, fakes):
    feishu = fakes[0]
    feishu.chats["oc_chat"].bot_manages = False  # the bot is neither the owner, an admin nor the creator
    feishu.said("oc_chat", "om_1")
    world.said("feishu", world.feishu("ou_7", "om_1", "加微信"), world.feishu("ou_7", "om_2", "刷单"))
    [deletion, _] = world.actions("delete", "fs")
    assert deletion.status == "failed" and "230026" in deletion.reason
    [task] = guard_ops.tasks(world.tenant_id, log=GuardLog())
    assert task["member_id"] == "feishu:ou_7" and "232017" in task["reason"] and task["evidence"] == "刷单"
    assert feishu.removed == []


def test_slack_cannot_delete_a_members_message_but_warns_and_kicks(world, fakes):
    slack = fakes[1]
    world.said("slack", world.slack("U7", "1700000001.000200", "加微信 please"))
    # THEN the deletion is refused as Slack refuses a bot token, and recorded so; the warning is posted
    [deletion] = world.actions("delete", "sl")
    assert deletion.status == "failed" and deletion.reason == "Slack chat.delete: cant_delete_message"
    [(channel, warning)] = slack.posted
    assert channel == "C100" and "加微信" not in warning
    world.said("slack", world.slack("U7", "1700000002.000200", "刷单"))
    assert slack.kicked == [("C100", "U7")] and [a.status for a in world.actions("remove", "sl")] == ["done"]
    kick = next(r for r in slack.requests if r.path == "/api/conversations.kick")
    assert kick.headers["authorization"] == "Bearer xoxb-1-bot" and kick.json() == {"channel": "C100", "user": "U7"}


def test_a_slack_kick_refused_is_a_task_with_slacks_error(world, fakes):
    slack = fakes[1]
    slack.channels["C100"].restricted = True
    world.said("slack", world.slack("U8", "1700000001.000300", "加微信"),
               world.slack("U8", "1700000002.000300", "刷单"))
    [task] = guard_ops.tasks(world.tenant_id, log=GuardLog())
    assert task["member_id"] == "slack:U8" and task["reason"] == "Slack conversations.kick: restricted_action"
    assert slack.kicked == []


def test_dingtalk_removes_from_a_scene_group_and_tasks_an_ordinary_groups_removal(world, fakes):
    dingtalk = fakes[2]
    # GIVEN two ads each, @-mentioning the robot, in a scene group and in an ordinary group
    world.said("dingtalk", world.dingtalk("cidScene", "u7", "加微信"), world.dingtalk("cidScene", "u7", "刷单"),
               world.dingtalk("cidOrdinary", "u9", "加微信"), world.dingtalk("cidOrdinary", "u9", "刷单"))
    # THEN the scene group's member is removed through the app's API
    assert dingtalk.removed == [("cidScene", "u7")]
    assert [a.status for a in world.actions("remove", "ds")] == ["done"]
    remove = next(r for r in dingtalk.requests if r.path.endswith("/scenegroup/member/delete"))
    assert remove.json() == {"open_conversation_id": "cidScene", "user_ids": "u7"}
    # AND the ordinary group's removal is an operator task saying why, with the evidence
    [task] = guard_ops.tasks(world.tenant_id, log=GuardLog())
    assert task["group_id"] == "dd" and "scene groups" in task["reason"] and task["evidence"] == "@机器人 刷单"
    # AND no message could be deleted: recorded as not possible
    deletions = world.actions("delete", "ds") + world.actions("delete", "dd")
    assert len(deletions) == 4 and all(d.status == "failed" and "no API" in d.reason for d in deletions)
    # AND each group's first offence was warned through the group's own robot, the word never repeated
    assert sorted(r.token for r in dingtalk.received) == ["r1", "r2"]
    assert all("违禁词 1" in r.text and "加微信" not in r.text for r in dingtalk.received)
    assert [a.status for a in world.actions("warn", "dd")] == ["done"]


def test_a_group_tagged_scene_group_that_dingtalk_does_not_know_is_a_task(world, fakes):
    dingtalk = fakes[2]
    dingtalk.scene_groups.pop("cidScene")
    world.said("dingtalk", world.dingtalk("cidScene", "u7", "加微信"), world.dingtalk("cidScene", "u7", "刷单"))
    [task] = guard_ops.tasks(world.tenant_id, log=GuardLog())
    assert "4000003" in task["reason"] and dingtalk.removed == []


def test_roles_from_feishu_and_dingtalk_exempt_the_owner_and_admins(world, fakes):
    feishu = fakes[0]
    rules = {"guard": dict(RULES["guard"], exempt={"roles": ["owner", "admin"]})}
    set_rules(world.tenant_id, GroupRules.model_validate(rules), datetime.now(UTC), store=GuardRulesStore())
    # GIVEN Feishu's chat handed over to ou_8 (im.chat.updated_v1 with the owner before and after)
    world.said("feishu", FEISHU.event("im.chat.updated_v1", {
        "chat_id": "oc_chat", "before_change": {"owner_id": {"open_id": "ou_1"}},
        "after_change": {"owner_id": {"open_id": "ou_8"}}}))
    feishu.said("oc_chat", "om_1")
    feishu.said("oc_chat", "om_2")
    # WHEN the new owner and the former one post an ad
    world.said("feishu", world.feishu("ou_8", "om_1", "加微信"), world.feishu("ou_1", "om_2", "加微信"))
    # THEN the new owner is exempt, the former one is not
    assert {o.member_id for o in GuardLog().offences(world.tenant_id)} == {"feishu:ou_1"}
    # AND a DingTalk sender the robot's callback marks isAdmin is exempt, another is not
    world.said("dingtalk", world.dingtalk("cidScene", "u8", "加微信", admin=True),
               world.dingtalk("cidScene", "u7", "加微信"))
    assert {o.member_id for o in GuardLog().offences(world.tenant_id)} == {"feishu:ou_1", "dingtalk:u7"}


def test_a_batchs_offenders_in_several_groups_are_read_from_their_rosters_at_once(world, fakes):
    guard, asked = world.deps.guard.keywords["deps"], []
    counted = replace(guard, members=lambda seats: asked.append(sorted(seats)) or guard.members(seats))
    world.deps = replace(world.deps, guard=partial(guard_messages, deps=counted))
    # WHEN a batch holds an ad in each of two DingTalk groups (owners and admins exempt: roles are looked at)
    world.said("dingtalk", world.dingtalk("cidScene", "u7", "加微信"), world.dingtalk("cidOrdinary", "u9", "加微信"))
    # THEN both offenders' roster entries are one read, and both offences are recorded
    t = world.tenant_id
    assert asked == [[(t, "dd", "dingtalk:u9"), (t, "ds", "dingtalk:u7")]]
    assert {o.group_id for o in GuardLog().offences(t)} == {"dd", "ds"}
