"""InboundApi's answers with the connection and the queue in memory: each platform's callback verified and
queued, every refusal answered without queueing, and no input at all producing a 5xx."""

from __future__ import annotations

import base64
import json
import time

import inbound_api
import pytest
from fakes.callbacks import Call, DingtalkCallbacks, FeishuCallbacks, SlackCallbacks, TelegramCallbacks, aes_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qunyun.services.inbound import InboundDeps
from support import http_event

DINGTALK = DingtalkCallbacks("app-key", "app-secret", "token", aes_key())
FEISHU = FeishuCallbacks("encrypt-key", "verification")
SLACK = SlackCallbacks("signing")
TELEGRAM = TelegramCallbacks("secret-token")
SECRETS = {
    "dingtalk": {"app_key": "app-key", "app_secret": "app-secret", "token": "token", "aes_key": DINGTALK.aes_key},
    "feishu": {"app_id": "cli", "app_secret": "s", "verification_token": "verification", "encrypt_key": "encrypt-key"},
    "slack": {"bot_token": "xoxb", "signing_secret": "signing"},
    "telegram": {"bot_token": "1:A", "secret_token": "secret-token"},
}


class Memory:
    def __init__(self):
        self.queued, self.refusals = [], []

    def get(self, tenant_id, platform):
        return SECRETS.get(platform) if tenant_id == "tea" else None

    def send(self, events):
        self.queued.extend(events)
        return len(events)

    def refused(self, tenant_id, platform, reason):
        self.refusals.append((platform, reason))


@pytest.fixture
def memory():
    return Memory()


def call(memory: Memory, platform: str, c: Call, tenant: str = "tea", event: dict | None = None) -> dict:
    event = event or http_event(c.method, c.path(platform, tenant), c.body, c.headers)
    event["pathParameters"] = {"platform": platform, "tenant": tenant}
    deps = InboundDeps(credentials=memory, queue=memory, refusals=memory, clock=time.time)
    return inbound_api.process(event, None, deps)


def test_a_dingtalk_robot_message_is_verified_and_queued(memory):
    # GIVEN a robot callback: a group message that @-mentions the robot, signed with the app secret
    robot = DINGTALK.robot({"conversationType": "2", "conversationId": "cid1", "msgId": "msg1", "msgtype": "text",
                            "text": {"content": " 签到 "}, "senderStaffId": "staff1", "senderNick": "Ann",
                            "createAt": int(time.time() * 1000)})
    # THEN it is answered 200 and queued as a message of its sender
    assert call(memory, "dingtalk", robot)["statusCode"] == 200
    [event] = memory.queued
    assert (event.kind, event.chat_id, event.sender.member_id("dingtalk"), event.text) == (
        "message", "cid1", "dingtalk:staff1", "签到")
    # AND a robot callback with another secret's sign is refused and queues nothing
    forged = DingtalkCallbacks("app-key", "other-secret", "token", DINGTALK.aes_key).robot({"msgId": "m2"})
    assert call(memory, "dingtalk", forged)["statusCode"] == 401 and len(memory.queued) == 1
    assert memory.refusals == [("dingtalk", "signature_invalid")]


def test_a_feishu_join_is_queued_and_a_wrong_token_refused(memory):
    added = FEISHU.event("im.chat.member.user.added_v1", {"chat_id": "oc_1", "operator_id": {"open_id": "ou_0"},
                                                         "users": [{"name": "Bo", "user_id": {"open_id": "ou_9"}}]})
    assert call(memory, "feishu", added)["statusCode"] == 200
    assert [(e.kind, e.members[0].member_id("feishu"), e.how) for e in memory.queued] == [
        ("member_joined", "feishu:ou_9", "invited")]
    wrong = FeishuCallbacks("encrypt-key", "another").event("im.chat.disbanded_v1", {"chat_id": "oc_1"})
    answer = call(memory, "feishu", wrong)
    assert (answer["statusCode"], json.loads(answer["body"])["error"]["code"]) == (401, "token_invalid")


def test_unknown_tenant_unconnected_platform_and_bad_signature_answer_alike(memory):
    good = SLACK.call({"type": "event_callback", "event_id": "E1", "event": {}})
    forged = SlackCallbacks("guess").call({"type": "event_callback", "event_id": "E1", "event": {}})
    bad = call(memory, "slack", forged)
    unknown = call(memory, "slack", good, tenant="nobody")
    unconnected = call(memory, "wecom", good)  # tea has no WeCom connection here
    nonsense = call(memory, "myspace", good)
    assert [a["statusCode"] for a in (bad, unknown, unconnected, nonsense)] == [401, 404, 404, 404]
    assert bad["body"] == unknown["body"] == unconnected["body"] == nonsense["body"]
    assert memory.queued == [] and memory.refusals == [("slack", "signature_invalid")]


def test_a_body_that_is_not_base64_is_unparsable(memory):
    c = TELEGRAM.update({"update_id": 1})
    event = http_event("POST", c.path("telegram", "tea"), c.body, c.headers)
    event["body"], event["isBase64Encoded"] = "%%%", True
    answer = call(memory, "telegram", c, event=event)
    assert (answer["statusCode"], json.loads(answer["body"])["error"]["code"]) == (400, "unparsable")


def test_a_base64_body_is_decoded_before_verifying(memory):
    c = TELEGRAM.update({"update_id": 3, "message": {"message_id": 9, "date": 1, "text": "hi", "from": {"id": 5},
                                                     "chat": {"id": -1, "type": "group"}}})
    event = http_event("POST", c.path("telegram", "tea"), c.body, c.headers)
    event["body"], event["isBase64Encoded"] = base64.b64encode(c.body).decode(), True
    assert call(memory, "telegram", c, event=event)["statusCode"] == 200
    assert [e.message_id for e in memory.queued] == ["9"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(platform=st.sampled_from(["wecom", "feishu", "dingtalk", "telegram", "slack"]),
       method=st.sampled_from(["GET", "POST"]), body=st.binary(max_size=300),
       query=st.dictionaries(st.sampled_from(["msg_signature", "signature", "timestamp", "nonce", "echostr"]),
                             st.text(max_size=40)),
       headers=st.dictionaries(st.sampled_from(["x-slack-request-timestamp", "x-slack-signature", "sign",
                                                "timestamp", "x-lark-signature", "x-telegram-bot-api-secret-token"]),
                               st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)))
def test_no_input_produces_a_5xx(memory, platform, method, body, query, headers):
    answer = call(memory, platform, Call(method, query, headers, body))
    assert answer["statusCode"] in (200, 400, 401, 404, 413)
    if answer["statusCode"] != 200:
        assert set(json.loads(answer["body"])["error"]) == {"code", "message"}
